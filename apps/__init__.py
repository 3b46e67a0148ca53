"""What the demos and the web app share above the model: one interpolated pair and the files made
from it (``pair_outputs``), and the demos' flags and run (``demo``). Scripts and ``webapp`` import
it; it imports ``models``, ``utils`` and nothing above them."""
