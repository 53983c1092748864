"""Every `st.session_state` key the app uses, declared once.

Widget keys are session keys too: Streamlit keeps a widget's value under its key, and tests
drive widgets by these keys. A key's shadow copy (`KEPT + key`) keeps a widget's value while
its page is not shown (see webapp.views.urlstate).
"""

KEPT = "_kept_"

# -- the session's models (webapp.session.registry) --------------------------------------------------
MODELS = "models"  # dict name -> ModelEntry: models trained or uploaded in this session
MODEL_COUNTER = "model_counter"  # itertools.count behind "My model N"
SELECTED_MODEL = "selected_model"  # the model every page's selector shows
SELECT_WHEN_READY = "select_when_ready"  # a run just started, to select once it has a model (registry)
MISSING_LINKED_MODEL = "missing_linked_model"  # why a link's model is not shown (None: it is, or no link)
FOLLOWED_LINK = "followed_link"  # the model id of the last link followed (each is followed once)
CLIENT = "client"  # webapp.clients.Client: this browser's token and address, for every limit
SHARE_NOTICE = "share_notice"  # (kind, text) after Share model / Share drawing
ACTIVE_RUN = "active_run"  # the model whose training run the Train page follows

# -- Draw ------------------------------------------------------------------------------------
DRAW_MODEL = "draw_model"  # model selector
BRUSH = "brush"  # brush width slider
CANVAS = "canvas"  # the drawing component's value
CANVAS_ROUND = "canvas_round"  # counts Clears: a new empty initial drawing for the canvas
CLEARED_DRAWING = "cleared_drawing"  # PNG bytes just cleared, ignored until the canvas sends its empty one
CLEAR = "clear"  # button
UPLOAD = "upload"  # file uploader: + "-" + UPLOAD_ROUND
UPLOAD_ROUND = "upload_round"  # counts refused uploads: each one gets a new, empty uploader
UPLOADED_ID = "uploaded_id"  # file_id of the upload already read
UPLOAD_ERROR = "upload_error"  # ("error" or "warning", text): why the last upload was refused, or what it lost
# Inside the network (webapp.views.inside)
INSIDE_TAB = "inside_tab"  # which of its tabs is open (only that one runs)
UNIT_LAYER, UNIT = "unit_layer", "unit"  # the hidden unit picked on the activation grids
MOST_ACTIVE = "unit_most_active"  # button: pick the unit the drawing excites most
SHOW_FAVOURITES, FAVOURITES_BUTTON = "show_favourites", "favourites_button"  # a unit's favourite test images
EXPLAIN_DIGIT = "explain_digit"  # the digit the saliency map explains (None: the reading)
MAP_CHART = "map_chart"  # the test-set map (its selection is a clicked test image)
OPEN_SAMPLE = "open_sample"  # a test image clicked on the map, to open on Inspect
COMPARE_MODEL = "compare_model"  # the second model on Draw, and model B on Inspect
# Teaching your handwriting (webapp.views.teach)
DRAWINGS = "drawings"  # webapp.training.teaching.Drawings: this session's labelled drawings (never shared)
CORRECTION = "correction"  # pills "Wrong? It's a …": keeps the drawing with the digit clicked, then resets
DRAWINGS_OPEN = "drawings_open"  # the Your drawings expander (lazy: thumbnails are drawn only while open)
DELETE_DRAWING = "delete_drawing_"  # + a drawing's id: its delete button
CLEAR_DRAWINGS = "clear_drawings"  # button
TEACH, STOP_TEACHING = "teach", "stop_teaching"  # buttons
TEACH_JOB = "teach_job"  # the session's latest teach job (webapp.training.job.TrainingJob, Task.TEACH)
TAUGHT = "taught"  # (id of the teach job registered, the name of its model), once it completed
TEACH_NOTICE = "teach_notice"  # (icon, text) for a toast on the next run: what a click kept or refused
KEEP_DRAWINGS = "keep_drawings"  # button "Keep my drawings": the drawings in the store, by private link
KEPT_LINK = "kept_link"  # (collection id, digest of the drawings kept) after this session kept its drawings
FOLLOWED_MINE = "followed_mine"  # the `mine=` id last followed (each link is loaded once per session)
MINE_NOTICE = "mine_notice"  # (kind, text): what loading a `mine=` link did, shown once

# -- Train -----------------------------------------------------------------------------------
TRAIN_PREFIX = "t_"  # sidebar widgets: "t_" + the setting's URL name (mlp.hyperparams)
START, PAUSE, RESUME, STOP = "start", "pause", "resume", "stop"  # buttons
TRAIN_NOTICE = "train_notice"  # why Start did not start a run, shown once
SHOWN_DONE = "shown_done"  # id of the finished job the page already reran for
CONTINUE_MODEL, CONTINUE_EPOCHS, CONTINUE = "cont_model", "cont_epochs", "continue"
LINKED_FOR_CONTINUE = "linked_for_continue"  # a model a link just brought in, to preselect in Continue
LINK_REFUSED = "link_refused"  # the urlstate.Refusals of the link's settings, shown until dismissed
DISMISS_REFUSED = "dismiss_refused"  # button under that notice
SIDEBAR_HINT = "sidebar_hint"  # the container of "the settings are in the sidebar" (shown while it is folded)

# -- Inspect ---------------------------------------------------------------------------------
INSPECT_MODEL = "inspect_model"  # model selector
F_TRUE, F_PRED, F_ORDER, F_PAGE, F_SAMPLE = "f_true", "f_pred", "f_order", "f_page", "f_sample"
CM_CHART = "cm_chart"  # the confusion matrix (its selection is the clicked cell)
CM_CELL = "cm_cell"  # the (true, predicted) cell the matrix highlights, or None
CLOSE_SAMPLE = "close_sample"  # button
W_UNITS = "w_units"  # how many first-layer tiles to show
CALIBRATION_TAB = "calibration_tab"  # which calibration set is open (only that one is computed)

# -- Gallery -----------------------------------------------------------------------------------
GALLERY_CLASS, GALLERY_SORT = "gallery_class", "gallery_sort"  # the class code and the order shown
GALLERY_PROJECTOR = "gallery_projector"  # toggle: the class's leaderboard alone, for a projector (`projector=1`)
GALLERY_CARDS = "gallery_cards"  # the container of the model cards (its CSS class styles their pictures)
GALLERY_SHOWN = "gallery_shown"  # what the class leaderboard shows (views.gallery.signature), to see it change
GALLERY_FRESH = "gallery_fresh"  # set by the page run that just read the leaderboard: its watcher skips a read
PUBLISH_MODEL, PUBLISH_NAME, PUBLISH_CLASS, PUBLISH = "publish_model", "publish_name", "publish_class", "publish"
PUBLISHED = "published"  # what the last Publish did, shown once
PUBLISH_PENDING = "publish_pending"  # (model, name, class) pressed but not yet stored: a rerun finishes it
PUBLISH_FOR = "publish_for"  # the page's class code that Publish's class field was last filled from

# -- every page ---------------------------------------------------------------------------------
# Prefix of containers whose buttons show only their icon: the words of their labels are for screen
# readers (webapp.views.ui.PAGE_STYLE hides them from view).
ICON_BUTTONS = "icon_buttons"
