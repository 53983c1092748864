"""What the pages draw: Streamlit widgets, and the pure words, pictures and charts they use."""
