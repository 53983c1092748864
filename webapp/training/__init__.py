"""Training and teaching runs in worker processes, and what a run's state means to a visitor. No Streamlit."""
