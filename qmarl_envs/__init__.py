"""qmarl environments: PettingZoo grid worlds from 1 to 10,000 agents.

Importing this package registers every id with :mod:`pettingzoo` (``"parallel"`` and ``"aec"``) and the
single-agent ids with :mod:`gymnasium`::

    import qmarl_envs, pettingzoo
    env = qmarl_envs.make("qmarl/BallCollection-3x3-v0")              # ParallelEnv
    env = pettingzoo.make("parallel", "qmarl/BallCollection-3x3-v0")  # the same
"""

from qmarl_envs.core.kernels import ACTION_NAMES
from qmarl_envs.registration import EnvSpec, describe, env_module, list_envs, make, make_gym, register, registry, spec

__all__ = ["ACTION_NAMES", "EnvSpec", "describe", "env_module", "list_envs", "make", "make_gym",
           "register", "registry", "spec"]

_BALL = "qmarl_envs.scenarios.ball_collection"
_SCALES = (("100", 100), ("1k", 1_000), ("10k", 10_000))
"""Scale presets of the Q-MARL scenarios: id suffix and number of agents (map and food by density)."""


def _register_builtin() -> None:
    from qmarl_envs.scenarios.ball_collection import LAYOUTS

    ball = [
        ("BallCollection-3x3-v0", "3x3", True, "QBM §4.1: 3x3, one agent, ball at the top-left"),
        ("BallCollection-5x3-v0", "5x3", True, "QBM §4.1: 3 rows x 5 cols, one agent, one penalty pit"),
        ("BallCollection-3x3-2Agents-v0", "3x3-2agents", False, "QBM §4.2: 3x3, two agents, one ball each"),
        ("BallCollection-5x3-2Agents-v0", "5x3-2agents", False, "QBM §4.2: 3x5, two agents, one pit"),
    ]
    for name, layout, single, desc in ball:
        register(EnvSpec(id=f"qmarl/{name}", scenario=f"{_BALL}:BallCollection",
                         config=f"{_BALL}:BallCollectionConfig", kwargs={"layout": LAYOUTS[layout]},
                         description=desc), single_agent=single)

    scaled = [
        ("Jungle", {"num_agents": 4, "map_size": 5, "num_food": 1}, False,
         "Q-MARL §3.1.1: 4 agents share 1 food on 5x5; crowding kills",
         "Jungle at {n:,} agents (0.04 agents, 0.01 food per cell)"),
        ("Battle", {"num_agents": 14}, False,
         "Q-MARL §3.1.1: 7 red v 7 scripted blue on 14x14; 3 enemies around kill",
         "Battle at {n:,} bodies, {half:,} a side (0.08 bodies per cell)"),
        ("Deception", {"num_agents": 1, "map_size": 5, "num_landmarks": 2}, True,
         "Q-MARL §3.1.1: hold the target landmark unseen by a heuristic adversary, 5x5",
         "Deception at {n:,} home agents (0.04 agents, 0.01 landmarks per cell)"),
    ]
    for name, small, single, small_desc, scaled_desc in scaled:
        mod = f"qmarl_envs.scenarios.{name.lower()}"
        where = {"scenario": f"{mod}:{name}", "config": f"{mod}:{name}Config"}
        register(EnvSpec(id=f"qmarl/{name}-v0", kwargs=small, description=small_desc, **where),
                 single_agent=single)
        for suffix, n in _SCALES:
            register(EnvSpec(id=f"qmarl/{name}-{suffix}-v0", kwargs={"num_agents": n},
                             description=scaled_desc.format(n=n, half=n // 2), **where))
        if name == "Battle":
            # v1: the scripted blue team chases along a distance field (battle.py, "Chase rule")
            v1 = {"chase": "field"}
            register(EnvSpec(id="qmarl/Battle-v1", kwargs={**small, **v1},
                             description=small_desc + "; v1: distance-field chase", **where))
            for suffix, n in _SCALES:
                register(EnvSpec(id=f"qmarl/Battle-{suffix}-v1", kwargs={"num_agents": n, **v1},
                                 description=scaled_desc.format(n=n, half=n // 2)
                                 + "; v1: distance-field chase", **where))


_register_builtin()
