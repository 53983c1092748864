"""The web app's code, by layer; each layer imports only the ones below it.

- `views/`: what the pages draw: Streamlit widgets, and the pure words, pictures and charts they use.
- `session/`: a visitor's session (keys, their models, their limits) and what the server shares
  between sessions (cached resources, the memory budget, uploads, closing gone sessions).
- `training/`: training and teaching runs in worker processes, and a run's status in words. No Streamlit.
- `store/`: the SQL store behind share links and the gallery, with its migrations. No Streamlit.
- `settings.py` (every DIGIT_LAB_* setting), `text.py` (visitor text, checked and shown as text),
  `clients.py` (who a visitor is, for the limits) and `images.py` (pictures of arrays): pure, for
  every layer.
"""
