"""Control: policy networks searched for the largest episode return, whole populations at once.

:class:`ControlProblem` runs every member's episodes in lockstep through a vectorised
environment (:class:`CartPole`, the cart-pole family in Numba; :class:`GymEnv`, any
gymnasium environment), one policy call per time step for the whole population. See the
guide page "Control and reinforcement learning".
"""

from evoneuro.control.envs import CartPole, GymCartPole, GymEnv, VecEnv
from evoneuro.control.problem import BUILTIN, ControlProblem, make_env
from evoneuro.control.replay import load_policy, plot_returns, plot_rollout, replay, save_policy

__all__ = ["BUILTIN", "CartPole", "ControlProblem", "GymCartPole", "GymEnv", "VecEnv", "load_policy", "make_env", "plot_returns",
           "plot_rollout", "replay", "save_policy"]
