"""Rules of Jungle, Battle and Deception (Q-MARL §3.1.1) on small hand-built states, their scale
defaults, opponents and scripted heuristics."""

import numpy as np
import pytest

import qmarl_envs
from qmarl_envs.core.state import GridState
from qmarl_envs.scenarios import battle, common, deception, jungle
from qmarl_envs.scenarios.battle import Battle, BattleConfig
from qmarl_envs.scenarios.deception import Deception, DeceptionConfig
from qmarl_envs.scenarios.jungle import Jungle, JungleConfig, JungleState

UP, DOWN, LEFT, RIGHT, STAY = range(5)


def _rng(seed=0):
    return np.random.default_rng(seed)


# ============================================================================ Jungle
def _jungle(size=7, n=2, **kw):
    return Jungle(JungleConfig(num_agents=n, map_size=size, num_food=1, **kw))


def _jungle_state(sc, cells, food=(), hp=3):
    f = np.zeros(sc.shape, dtype=bool)
    for r, c in food:
        f[r, c] = True
    n = len(cells)
    return JungleState(shape=sc.shape, positions=np.array(cells, np.int32), alive=np.ones(n, bool),
                       team=np.zeros(n, np.int8), hp=np.full(n, hp, np.int16), food=f)


def _jstep(sc, state, actions):
    state.step += 1
    return sc.step(state, np.asarray(actions, np.int64), _rng(), state.alive.copy())


def test_jungle_agent_dies_on_its_third_crowded_step():
    sc = _jungle()
    st = _jungle_state(sc, [(3, 3), (3, 4)])            # 4-adjacent: both crowded every step
    for step in (1, 2):
        rew, term = _jstep(sc, st, [STAY, STAY])
        assert not term.any() and st.alive.all()
        assert st.hp.tolist() == [3 - step] * 2
        assert rew.tolist() == [0.0, 0.0]
    rew, term = _jstep(sc, st, [STAY, STAY])
    assert term.all() and not st.alive.any()
    assert rew.tolist() == [-1.0, -1.0]
    assert st.died_at.tolist() == [3, 3]


def test_jungle_crowded_steps_need_not_be_consecutive_and_diagonals_do_not_crowd():
    sc = _jungle()
    st = _jungle_state(sc, [(3, 3), (4, 4)])            # diagonal: not crowded
    for _ in range(5):
        _jstep(sc, st, [STAY, STAY])
    assert st.hp.tolist() == [3, 3]
    _jstep(sc, st, [STAY, LEFT])                          # (4,3): now 4-adjacent
    _jstep(sc, st, [STAY, RIGHT])                         # back to diagonal
    _jstep(sc, st, [STAY, LEFT])
    assert st.hp.tolist() == [1, 1] and st.alive.all()
    _, term = _jstep(sc, st, [STAY, STAY])
    assert term.all()


def test_jungle_sharing_a_cell_crowds_and_the_dead_stop_counting():
    sc = _jungle(n=3)
    st = _jungle_state(sc, [(1, 1), (1, 1), (5, 5)], hp=1)
    _, term = _jstep(sc, st, [STAY, STAY, STAY])
    assert term.tolist() == [True, True, False]
    obs = sc.observe(st)
    assert obs[2, 1, 1, 1] == 1.0                         # only itself counted
    assert obs[0, 1, 1, 1] == 0.0                         # the dead are removed from the map
    rew, term = _jstep(sc, st, [UP, UP, STAY])
    assert rew.tolist() == [0.0, 0.0, 0.0] and st.positions[0].tolist() == [1, 1]   # dead do not move


def test_jungle_food_reward_is_4_adjacent_only_and_death_replaces_it():
    sc = _jungle(n=3)
    st = _jungle_state(sc, [(2, 3), (2, 2), (6, 6)], food=[(3, 3)], hp=2)
    rew, _ = _jstep(sc, st, [STAY, STAY, STAY])           # agent 1 is diagonal to the food
    assert rew.tolist() == [1.0, 0.0, 0.0]
    assert st.hp.tolist() == [1, 1, 2]                    # agents 0 and 1 are 4-adjacent
    rew, term = _jstep(sc, st, [STAY, STAY, STAY])
    assert rew.tolist() == [-1.0, -1.0, 0.0] and term.tolist() == [True, True, False]


def test_jungle_food_and_map_edge_block_moves():
    sc = _jungle(n=2)
    st = _jungle_state(sc, [(2, 3), (0, 0)], food=[(3, 3)])
    _jstep(sc, st, [DOWN, UP])
    assert st.positions.tolist() == [[2, 3], [0, 0]]
    _jstep(sc, st, [LEFT, LEFT])
    assert st.positions.tolist() == [[2, 2], [0, 0]]
    _jstep(sc, st, [DOWN, RIGHT])
    assert st.positions.tolist() == [[3, 2], [0, 1]]


def test_jungle_observation_channels_and_off_map_cells():
    sc = _jungle(n=2)
    st = _jungle_state(sc, [(0, 0), (1, 1)], food=[(0, 1)])
    obs = sc.observe(st)
    assert obs.shape == (2, 3, 3, 2) and obs.dtype == np.float32
    assert (obs[0, 0, :, :] == -1).all() and (obs[0, :, 0, :] == -1).all()     # top row, left column
    assert obs[0, 1, 2, 0] == 1.0                         # food right of agent 0
    assert obs[0, 1, 1, 1] == 1.0 and obs[0, 2, 2, 1] == 1.0   # itself, agent 1 diagonally
    assert obs[1, 0, 1, 0] == 1.0 and obs[1, 0, 0, 1] == 1.0   # from agent 1: food up, agent 0 up-left


def test_jungle_score_counts_the_dead_as_minus_one_for_the_rest_of_the_episode():
    sc = _jungle(n=2, max_cycles=4)
    st = _jungle_state(sc, [(3, 3), (3, 4)], hp=1)
    returns = np.zeros(2)
    for _ in range(4):
        rew, _ = _jstep(sc, st, [STAY, STAY])
        returns += rew
    summary = sc.episode_summary(st, returns)
    # each died on step 1 (-1) and scores -1 on the 3 later steps: mean -1
    assert summary["score"] == -1.0 and summary["win"] is False and summary["survivors"] == 0
    st = _jungle_state(sc, [(2, 3), (6, 6)], food=[(3, 3)])
    returns = np.zeros(2)
    for _ in range(4):
        rew, _ = _jstep(sc, st, [STAY, STAY])
        returns += rew
    s = sc.episode_summary(st, returns)
    assert s["score"] == pytest.approx(0.5) and s["win"] is True and s["fed_fraction"] == 0.5


def test_jungle_episode_summary_reaches_the_infos_on_the_last_step():
    env = qmarl_envs.make("qmarl/Jungle-v0", max_cycles=3)
    env.reset(seed=1)
    infos = {}
    while env.agents:
        _, _, _, _, infos = env.step({a: STAY for a in env.agents})
    ep = next(iter(infos.values()))["episode"]
    assert -1.0 <= ep["score"] <= 1.0 and ep["length"] == 3 and isinstance(ep["win"], bool)
    assert ep["score"] == env.episode_summary()["score"]


def test_jungle_starts_are_spread_so_nobody_dies_before_step_four():
    env = qmarl_envs.make("qmarl/Jungle-v0")
    rng = _rng(3)
    for seed in range(40):
        env.reset_arrays(seed=seed)
        p = env.positions()
        d = np.abs(p[:, None] - p[None]).sum(-1) + 99 * np.eye(4, dtype=int)
        assert d.min() >= 4
        for _ in range(3):
            _, _, term, _ = env.step_arrays(rng.integers(0, 5, 4))
            assert not term.any()


def test_jungle_start_spacing_one_allows_adjacent_starts():
    env = qmarl_envs.make("qmarl/Jungle-v0", start_spacing=1)
    close = 0
    for seed in range(40):
        env.reset_arrays(seed=seed)
        p = env.positions()
        d = np.abs(p[:, None] - p[None]).sum(-1) + 99 * np.eye(4, dtype=int)
        close += d.min() < 4
    assert close > 0


def test_jungle_eight_agents_on_the_small_map_still_start():
    env = qmarl_envs.make("qmarl/Jungle-v0", num_agents=8)
    obs = env.reset_arrays(seed=0)
    assert obs.shape == (8, 3, 3, 2) and len(np.unique(env.positions(), axis=0)) == 8


# ============================================================================ densities, presets
@pytest.mark.parametrize("n, side, food", [(100, 50, 25), (1_000, 159, 253), (10_000, 500, 2_500)])
def test_jungle_density_defaults(n, side, food):
    cfg = JungleConfig(num_agents=n)
    assert (cfg.side, cfg.food) == (side, food)
    suffix = {100: "100", 1_000: "1k", 10_000: "10k"}[n]
    sc = qmarl_envs.make(f"qmarl/Jungle-{suffix}-v0").scenario
    assert sc.shape == (side, side) and sc.num_food == food and len(sc.agent_ids) == n


def test_small_scale_ids_pin_the_papers_numbers():
    j = qmarl_envs.make("qmarl/Jungle-v0").scenario
    assert (j.shape, j.num_food, len(j.agent_ids), j.max_cycles) == ((5, 5), 1, 4, 31)
    b = qmarl_envs.make("qmarl/Battle-v0").scenario
    assert (b.shape, b.team_size, b.agent_ids[0], len(b.agent_ids)) == ((14, 14), 7, "red_0", 7)
    d = qmarl_envs.make("qmarl/Deception-v0").scenario
    assert (d.shape, d.num_landmarks, d.agent_ids) == ((5, 5), 2, ["agent_0"])
    st = d.reset(_rng())
    assert np.count_nonzero(st.landmarks >= 0) == 2 and 0 <= st.target < 2


def test_battle_and_deception_density_defaults():
    assert BattleConfig(num_agents=10_000).side == 354          # MAgent2 battle_v4's 9,800-agent map
    assert BattleConfig(num_agents=14).side == 14
    assert BattleConfig(num_agents=100).side == 36
    cfg = DeceptionConfig(num_agents=10_000)
    assert (cfg.side, cfg.landmarks) == (500, 2_500)
    assert (DeceptionConfig(num_agents=1).side, DeceptionConfig(num_agents=1).landmarks) == (5, 2)
    sc = qmarl_envs.make("qmarl/Battle-10k-v0").scenario
    assert sc.shape == (354, 354) and len(sc.agent_ids) == 5_000


@pytest.mark.parametrize("cls, kw, name", [
    (JungleConfig, {"num_agents": 0}, "num_agents"),
    (JungleConfig, {"map_size": 5, "num_agents": 30}, "num_agents"),
    (JungleConfig, {"hp": 0}, "hp"),
    (JungleConfig, {"agent_density": 0.0}, "agent_density"),
    (JungleConfig, {"max_cycles": 2.5}, "max_cycles"),
    (JungleConfig, {"start_spacing": True}, "start_spacing"),
    (BattleConfig, {"num_agents": 7}, "num_agents"),
    (BattleConfig, {"opponent": "smart"}, "opponent"),
    (BattleConfig, {"kill_threshold": 0}, "kill_threshold"),
    (BattleConfig, {"map_size": 2, "num_agents": 6}, "num_agents"),
    (DeceptionConfig, {"adversary": "random"}, "adversary"),
    (DeceptionConfig, {"num_landmarks": 0}, "num_landmarks"),
    (DeceptionConfig, {"map_size": 2, "num_agents": 3}, "num_agents"),
])
def test_bad_config_values_name_the_field(cls, kw, name):
    with pytest.raises(ValueError, match=name):
        cls(**kw)


def test_unknown_kwarg_is_rejected_by_make():
    with pytest.raises(ValueError, match="unknown keyword.*allowed"):
        qmarl_envs.make("qmarl/Battle-v0", teams=3)


# ============================================================================ Battle
def _battle(n=8, size=9, **kw):
    return Battle(BattleConfig(num_agents=n, map_size=size, opponent=None, **kw))


def _battle_state(sc, red, blue):
    """Red bodies at ``red``, blue at ``blue``; unused bodies of a team are parked dead in a corner."""
    n = sc.team_size
    pos = np.zeros((2 * n, 2), np.int32)
    alive = np.zeros(2 * n, bool)
    pos[:len(red)] = red
    alive[:len(red)] = True
    pos[n:n + len(blue)] = blue
    alive[n:n + len(blue)] = True
    return GridState(shape=sc.shape, positions=pos, alive=alive, team=sc.team.copy(),
                     hp=np.ones(2 * n, np.int16))


def _bstep(sc, st, actions=None):
    st.step += 1
    a = np.full(len(sc.agent_ids), STAY, np.int64) if actions is None else np.asarray(actions, np.int64)
    return sc.step(st, a, _rng(), st.alive[:len(sc.agent_ids)].copy())


def test_battle_three_adjacent_enemies_kill_two_do_not():
    sc = _battle(n=10)
    # red 0 at (4,4) with 3 blue around it (one diagonal, one on its own cell); red 1 at (1,1)
    # with 2 blue neighbours
    st = _battle_state(sc, [(4, 4), (1, 1)], [(3, 3), (4, 5), (4, 4), (0, 1), (1, 2)])
    rew, term = _bstep(sc, st)
    assert st.alive[:2].tolist() == [False, True]
    assert term[0] and not term[1]
    assert rew[0] == -1.0 and rew[1] == 0.0
    # each blue body sees at most one red in its 3x3: nobody else dies
    assert st.alive[5:10].all()


def test_battle_kills_are_simultaneous():
    sc = _battle()
    # 3 red and 3 blue stacked on one cell: each sees 3 enemies; all six die on the same step
    st = _battle_state(sc, [(4, 4)] * 3 + [(0, 0)], [(4, 4)] * 3 + [(8, 8)])
    rew, term = _bstep(sc, st)
    assert st.alive.tolist() == [False, False, False, True, False, False, False, True]
    assert (rew[[0, 1, 2, 4, 5, 6]] == -1.0).all()


def test_battle_kill_uses_the_positions_after_the_moves():
    sc = _battle()
    st = _battle_state(sc, [(4, 2)], [(3, 4), (4, 4), (5, 4)])
    _bstep(sc, st, [RIGHT, STAY, STAY, STAY, STAY, STAY, STAY, STAY])   # red walks into the trap
    assert not st.alive[0]


@pytest.mark.parametrize("red, blue, outcome", [(3, 2, 1.0), (2, 3, -1.0), (2, 2, 0.0)])
def test_battle_outcome_at_the_time_limit(red, blue, outcome):
    sc = _battle(max_cycles=1)
    st = _battle_state(sc, [(0, 2 * i) for i in range(red)], [(8, 2 * i) for i in range(blue)])
    rew, term = _bstep(sc, st)
    assert rew[:red].tolist() == [outcome] * red
    assert rew[4:4 + blue].tolist() == [-outcome] * blue
    assert not term[st.alive].any()                       # the adapter truncates the survivors
    s = sc.episode_summary(st, rew.astype(float))
    assert s["score"][0] == outcome and s["score"][4] == -outcome
    assert s["win"][0] == (outcome > 0) and (s["red_survivors"], s["blue_survivors"]) == (red, blue)


def test_battle_wiped_out_team_ends_the_episode_early():
    sc = _battle(max_cycles=31)
    st = _battle_state(sc, [(4, 4), (4, 3), (3, 4), (0, 0)], [(4, 4)])
    rew, term = _bstep(sc, st)
    assert not st.alive[4] and term.all()                 # blue's last body died: everyone is done
    assert rew[4] == -1.0 and rew[:4].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_battle_env_truncates_at_max_cycles_and_reports_the_team_outcome():
    env = qmarl_envs.make("qmarl/Battle-v0", opponent="random", max_cycles=3)
    env.reset(seed=0)
    while env.agents:
        acts = {a: STAY for a in env.agents}
        _, rew, term, trunc, infos = env.step(acts)
    s = env.episode_summary()
    assert s["length"] == 3
    for a, info in infos.items():
        if trunc[a]:
            assert info["episode"]["score"] == s["score"] == rew[a]
            assert info["episode"]["win"] == (s["score"] > 0)


def test_battle_observation_is_relative_to_the_team():
    sc = _battle()
    st = _battle_state(sc, [(4, 4), (4, 5)], [(3, 4)])
    obs = sc.observe(st)
    assert obs.shape == (8, 3, 3, 2)
    assert obs[0, 1, 1, 0] == 1 and obs[0, 1, 2, 0] == 1 and obs[0, 0, 1, 1] == 1     # red 0
    assert obs[4, 1, 1, 0] == 1 and obs[4, 2, 1, 1] == 1 and obs[4, 2, 2, 1] == 1     # blue 0
    st2 = _battle_state(sc, [(0, 0)], [(8, 8)])
    o = sc.observe(st2)
    assert (o[0, 0] == -1).all() and (o[4, 2] == -1).all()


def test_battle_opponent_none_exposes_both_teams():
    env = qmarl_envs.make("qmarl/Battle-v0", opponent=None)
    assert env.possible_agents == [f"red_{i}" for i in range(7)] + [f"blue_{i}" for i in range(7)]
    assert len(qmarl_envs.make("qmarl/Battle-v0").possible_agents) == 7


def test_battle_random_and_scripted_opponents_differ_and_are_seeded():
    def blue_moves(opponent, seed):
        env = qmarl_envs.make("qmarl/Battle-v0", opponent=opponent)
        env.reset_arrays(seed=seed)
        before = env.grid_state.positions[7:].copy()
        env.step_arrays(np.full(7, STAY))
        return before, env.grid_state.positions[7:].copy()

    b0, s1 = blue_moves("scripted", 4)
    _, s2 = blue_moves("scripted", 4)
    _, r1 = blue_moves("random", 4)
    assert np.array_equal(s1, s2)                         # seeded
    assert not np.array_equal(s1, r1)
    assert (np.abs(s1 - b0).sum(1) <= 1).all()


def test_battle_scripted_opponent_beats_a_random_red_team():
    env = qmarl_envs.make("qmarl/Battle-v0")
    rng = _rng(1)
    scores = []
    for seed in range(30):
        env.reset_arrays(seed=seed)
        while env.alive_mask().any():
            env.step_arrays(rng.integers(0, 5, 7))
        scores.append(env.episode_summary()["score"])
    assert np.mean(scores) < -0.5


def test_battle_scripted_actions_chase_the_nearest_enemy():
    sc = _battle()
    st = _battle_state(sc, [(4, 4), (0, 0)], [(4, 7), (8, 8)])
    acts = battle.scripted_actions(sc, st, _rng())
    assert acts[0] == RIGHT                               # blue 0 is 3 to the right
    assert acts[1] in (DOWN, RIGHT)                       # blue 0 at (4,7) is nearer than (8,8)
    assert acts[4] == LEFT                                # blue 0 chases red 0
    assert acts[2] == STAY and acts[6] == STAY            # dead bodies stay
    # far away: the coarse search still points the right way
    sc = _battle(size=40)
    st = _battle_state(sc, [(2, 2)], [(30, 2)])
    assert battle.scripted_actions(sc, st, _rng())[0] == DOWN
    st = _battle_state(sc, [(2, 32)], [(2, 2)])
    assert battle.scripted_actions(sc, st, _rng())[0] == LEFT


def test_battle_scripted_team_beats_random_team():
    env = qmarl_envs.make("qmarl/Battle-v0", opponent="random")
    rng = _rng(2)
    scores = []
    for seed in range(30):
        env.reset_arrays(seed=seed)
        while env.alive_mask().any():
            env.step_arrays(battle.scripted_actions(env.scenario, env.grid_state, rng))
        scores.append(env.episode_summary()["score"])
    assert np.mean(scores) > 0.5


# ============================================================================ Deception
def _deception(n=2, **kw):
    return Deception(DeceptionConfig(num_agents=n, map_size=7, num_landmarks=2, adversary=None, **kw))


def _deception_state(sc, home, adversary, target_cell=(1, 1), decoy_cell=(5, 5)):
    lm = np.full(sc.shape, -1, np.int16)
    lm[target_cell] = 0
    lm[decoy_cell] = 1
    n = len(home) + 1
    return GridState(shape=sc.shape, positions=np.array(list(home) + [adversary], np.int32),
                     alive=np.ones(n, bool), team=sc.team.copy(), hp=np.ones(n, np.int16),
                     landmarks=lm, target=0)


@pytest.mark.parametrize("home_on, adv_on, outcome", [
    (True, False, 1.0), (True, True, -1.0), (False, False, -1.0), (False, True, -1.0)])
def test_deception_outcome_in_its_four_cases(home_on, adv_on, outcome):
    sc = _deception(max_cycles=2)
    home = [(1, 1) if home_on else (5, 5), (3, 3)]
    st = _deception_state(sc, home, (1, 1) if adv_on else (5, 5))
    st.step = 1
    rew, term = sc.step(st, np.full(3, STAY), _rng(), st.alive.copy())
    assert rew.tolist() == [0.0, 0.0, 0.0] and not term.any()          # nothing before the end
    st.step = 2
    rew, term = sc.step(st, np.full(3, STAY), _rng(), st.alive.copy())
    assert rew.tolist() == [outcome, outcome, -outcome] and not term.any()
    s = sc.episode_summary(st, rew.astype(float))
    assert s["score"].tolist() == [outcome, outcome, -outcome]
    assert (s["home_on_target"], s["adversary_on_target"]) == (home_on, adv_on)


def test_deception_adversary_does_not_observe_the_target():
    sc = _deception()
    st = _deception_state(sc, [(1, 2), (2, 1)], (1, 0))
    obs = sc.observe(st)
    assert obs.shape == (3, 3, 3, 4)
    assert obs[0, 1, 0, 0] == 1 and obs[0, 1, 0, 1] == 1               # home agent sees the target
    assert obs[2, 1, 2, 0] == 1 and obs[2, 1, 2, 1] == 0               # adversary: landmark only
    assert (obs[2, :, 0] == -1).all()                                  # its off-map column
    assert obs[2, 1, 1, 3] == 1 and obs[2, 2, 2, 2] == 1               # itself; home agent 1
    assert obs[0, 1, 1, 2] == 1 and obs[0, 2, 0, 2] == 1               # home 0: itself, home 1
    assert obs[1, 0, 0, 3] == 1                                        # home 1 sees the adversary


def test_deception_heuristic_adversary_follows_the_home_agents():
    sc = Deception(DeceptionConfig(num_agents=2, map_size=9, num_landmarks=2))
    lm = np.full(sc.shape, -1, np.int16)
    lm[1, 1], lm[7, 7] = 0, 1
    st = GridState(shape=sc.shape, positions=np.array([[6, 7], [7, 6], [4, 4]], np.int32),
                   alive=np.ones(3, bool), team=sc.team.copy(), hp=np.ones(3, np.int16),
                   landmarks=lm, target=1)
    for t in range(1, 7):
        st.step = t
        sc.step(st, np.full(2, STAY), _rng(t), st.alive[:2].copy())
    assert st.positions[2].tolist() == [7, 7]                          # went to the watched landmark
    st.target = 0                                                      # the target does not matter
    st.positions[2] = (4, 4)
    st.step = 7
    sc.step(st, np.full(2, STAY), _rng(), st.alive[:2].copy())
    assert st.positions[2].tolist() in ([5, 4], [4, 5])


def test_deception_scripted_home_agents_go_to_the_target_and_stay():
    sc = _deception()
    st = _deception_state(sc, [(4, 1), (1, 1)], (6, 6))
    acts = deception.scripted_actions(sc, st, _rng())
    assert acts[0] == UP and acts[1] == STAY and acts.shape == (3,)


def test_deception_env_pays_only_at_the_end_and_truncates():
    env = qmarl_envs.make("qmarl/Deception-v0", adversary=None)
    assert env.possible_agents == ["agent_0", "adversary_0"]
    env.reset(seed=0)
    total = {a: 0.0 for a in env.possible_agents}
    steps = 0
    while env.agents:
        _, rew, term, trunc, infos = env.step({a: STAY for a in env.agents})
        steps += 1
        for a, r in rew.items():
            total[a] += r
            if steps < 31:
                assert r == 0.0
    assert steps == 31 and all(trunc.values()) and not any(term.values())
    assert total["agent_0"] == -total["adversary_0"] in (1.0, -1.0)
    assert infos["agent_0"]["episode"]["score"] == total["agent_0"]


# ============================================================================ shared machinery
@pytest.mark.parametrize("env_id, kw", [("qmarl/Jungle-100-v0", {}),
                                        ("qmarl/Battle-100-v0", {"opponent": None}),
                                        ("qmarl/Deception-100-v0", {"adversary": None})])
def test_observations_from_step_equal_a_fresh_observe(env_id, kw):
    env = qmarl_envs.make(env_id, **kw)
    rng = _rng(5)
    n = len(env.possible_agents)
    for seed in range(3):
        env.reset_arrays(seed=seed)
        while env.alive_mask().any():
            obs, *_ = env.step_arrays(rng.integers(0, 5, n))
            sc = env.scenario
            assert np.array_equal(obs, sc.observe(env.grid_state))   # recomputed from the state


def test_in_place_edits_between_step_and_observe_are_seen():
    env = qmarl_envs.make("qmarl/Jungle-100-v0")
    env.reset_arrays(seed=0)
    sc = env.scenario
    sc.step(env.grid_state, np.full(100, STAY), _rng(), env.alive_mask())
    env.grid_state.positions[0] = env.grid_state.positions[1]
    obs = sc.observe(env.grid_state)
    assert obs[1, 1, 1, 1] == 2


@pytest.mark.parametrize("module, env_id", [(jungle, "qmarl/Jungle-1k-v0"), (battle, "qmarl/Battle-1k-v0"),
                                            (deception, "qmarl/Deception-1k-v0")])
def test_scripted_actions_shape_dtype_determinism_and_bad_input(module, env_id):
    env = qmarl_envs.make(env_id)
    env.reset_arrays(seed=0)
    a1 = module.scripted_actions(env.scenario, env.grid_state, _rng(7))
    a2 = module.scripted_actions(env.scenario, env.grid_state, _rng(7))
    assert a1.dtype == np.int64 and a1.shape == (len(env.possible_agents),)
    assert np.array_equal(a1, a2) and a1.min() >= 0 and a1.max() < 5
    assert len(np.unique(a1)) >= 3                                     # not a constant policy
    with pytest.raises(ValueError, match="scenario"):
        ball = qmarl_envs.make("qmarl/BallCollection-3x3-v0").scenario
        module.scripted_actions(ball, env.grid_state, _rng())
    with pytest.raises(ValueError, match="rng"):
        module.scripted_actions(env.scenario, env.grid_state, 7)
    other = qmarl_envs.make(env_id.replace("1k", "100"))
    other.reset_arrays(seed=0)
    with pytest.raises(ValueError, match="state"):
        module.scripted_actions(env.scenario, other.grid_state, _rng())


def test_jungle_scripted_agents_feed_without_crowding():
    sc = _jungle(size=7, n=2)
    # agent 0 two steps above the food's top neighbour; agent 1 already on an uncrowded feeding cell
    st = _jungle_state(sc, [(0, 3), (3, 4)], food=[(3, 3)])
    acts = jungle.scripted_actions(sc, st, _rng())
    assert acts[0] == DOWN and acts[1] == STAY
    st = _jungle_state(sc, [(2, 3), (2, 3)], food=[(3, 3)])          # fed but crowded: they split
    acts = jungle.scripted_actions(sc, st, _rng())
    assert (acts != STAY).all()


def test_jungle_scripted_beats_random():
    env = qmarl_envs.make("qmarl/Jungle-v0")
    rng = _rng(4)
    score = {}
    for policy in ("random", "scripted"):
        s = []
        for seed in range(40):
            env.reset_arrays(seed=seed)
            while env.alive_mask().any():
                a = (rng.integers(0, 5, 4) if policy == "random"
                     else jungle.scripted_actions(env.scenario, env.grid_state, rng))
                env.step_arrays(a)
            s.append(env.episode_summary()["score"])
        score[policy] = np.mean(s)
    assert score["scripted"] > score["random"] + 0.5


def test_scripted_actions_scale_to_10k_agents():
    env = qmarl_envs.make("qmarl/Jungle-10k-v0")
    env.reset_arrays(seed=0)
    acts = jungle.scripted_actions(env.scenario, env.grid_state, _rng())
    assert acts.shape == (10_000,)
    # most agents have somewhere to go on a fresh map
    assert np.mean(acts != STAY) > 0.5


def test_seek_actions_finds_the_nearest_target_and_breaks_ties_both_ways():
    g = common.FlatGrid((9, 9))
    score = np.ones(g.size, np.int64)
    t1, t2 = g.flat(np.array([[4, 1], [4, 7]]))
    score[[t1, t2]] = 0
    here = g.flat(np.array([[4, 4]] * 200))
    acts = common.seek_actions(g, here, score, lambda: np.array([t1, t2]), _rng(), ~g.inside)
    assert set(acts.tolist()) == {LEFT, RIGHT}           # equally near: both chosen, at random
    here = g.flat(np.array([[4, 3]]))
    assert common.seek_actions(g, here, score, lambda: np.array([t1, t2]), _rng(), ~g.inside)[0] == LEFT


def test_spaced_cells_respect_the_spacing():
    free = np.ones((30, 30), bool)
    cells, used = common.spaced_cells(_rng(), free, 40, 4)
    d = np.abs(cells[:, None].astype(int) - cells[None]).sum(-1) + 99 * np.eye(40, dtype=int)
    assert used == 4 and d.min() >= 4
    with pytest.raises(ValueError, match="cannot place"):
        common.spaced_cells(_rng(), np.ones((2, 2), bool), 5, 1)
