"""The censorship lab: a simulated internet with a censor, built from network namespaces."""

from lab.actions import Action
from lab.internet import Lab, LabError, LabTarget
from lab.scenario import Event, Scenario, ScenarioError, load_scenario

__all__ = [
    "Action",
    "Event",
    "Lab",
    "LabError",
    "LabTarget",
    "Scenario",
    "ScenarioError",
    "load_scenario",
]
