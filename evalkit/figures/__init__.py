"""The figures papers print besides RD curves: detail crops and per-image paired comparisons.

* :mod:`evalkit.figures.crops` -- the same region of the original and of each method's
  reconstruction, enlarged by an integer factor with nearest-neighbour (``evalkit crops``);
* :mod:`evalkit.figures.crop_regions` -- ``--auto K``: the K regions where methods differ most;
* :mod:`evalkit.figures.crops_html` -- the crops as one self-contained HTML page with a
  synchronised zoom/pan viewer;
* :mod:`evalkit.figures.paired` -- one metric, two methods, image by image (``evalkit compare``).
"""
