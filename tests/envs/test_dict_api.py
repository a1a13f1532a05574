"""The dict API builds its per-step dicts from cached templates: every step still returns new
dicts with exactly the array API's values, in ``env.agents`` order, also after agents leave."""

import numpy as np

import qmarl_envs


def _twins(env_id, **kw):
    a, b = qmarl_envs.make(env_id, **kw), qmarl_envs.make(env_id, **kw)
    return a, b


def test_dicts_match_the_array_api_step_by_step_and_are_fresh():
    env, ref = _twins("qmarl/Battle-100-v0", opponent=None)
    env.reset(seed=3)
    ref.reset_arrays(seed=3)
    rng = np.random.default_rng(0)
    seen = []
    while env.agents:
        agents = list(env.agents)
        live = ref.alive_mask()
        acts = rng.integers(0, 5, len(env.possible_agents))
        obs, rew, term, trunc, infos = env.step(dict(zip(agents, acts[live].tolist())))
        o, r, te, tr = ref.step_arrays(acts)
        rows = np.flatnonzero(live)
        assert list(obs) == list(rew) == list(term) == list(trunc) == list(infos) == agents
        assert [rew[a] for a in agents] == r[rows].tolist()
        assert [term[a] for a in agents] == te[rows].tolist()
        assert [trunc[a] for a in agents] == tr[rows].tolist()
        assert all(np.array_equal(obs[a], o[i]) for a, i in zip(agents, rows))
        ended = {a for a in agents if term[a] or trunc[a]}
        assert all(set(infos[a]) == ({"episode"} if a in ended else set()) for a in agents)
        assert len({id(infos[a]) for a in agents}) == len(agents)   # one dict per agent
        for d in (rew, term, trunc, infos):          # callers may keep and change what they got
            assert all(d is not old for old in seen)
            d.clear()
        seen += [rew, term, trunc, infos]
    assert len(seen) > 8


def test_negative_zero_rewards_keep_their_sign():
    # a Battle tie pays blue -outcome = -0.0; the dict carries what rewards.tolist() gives
    env = qmarl_envs.make("qmarl/Battle-v0", opponent=None, max_cycles=1)
    for seed in range(40):
        env.reset(seed=seed)
        _, rew, *_ = env.step({a: 4 for a in env.agents})
        arr = [rew[a] for a in env.possible_agents if a in rew]
        if any(np.signbit(v) and v == 0 for v in arr):
            return
    raise AssertionError("no tie with a -0.0 reward in 40 seeds")

