"""`doctor`: the guide's troubleshooting. read.py reads the tenant once (through the steps' own readers), checks.py
judges it (pure), reusing the steps' own plans where they judge the same thing."""
from .read import DoctorInputs, run_doctor

__all__ = ["DoctorInputs", "run_doctor"]
