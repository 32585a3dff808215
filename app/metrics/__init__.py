"""Domain metrics beside the HTTP ones (app/observability.py): counters moved where things
happen (counters.py) and gauges of state counted at scrape time (state.py)."""
