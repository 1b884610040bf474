"""Output in one place: a run's Report as text for people (rich, on the Application's console) or as one JSON
document for machines. Data goes to stdout; progress and messages go to stderr (the Application's err console)."""
