"""Published numbers, copied from the data folder's README (dip-paper/README.md).

Those were computed from the Deep Image Prior paper's released result images with each set's protocol.
Each set maps a column name to {image: PSNR}.
"""

from __future__ import annotations

PUBLISHED: dict[str, dict[str, dict[str, float]]] = {
    "denoise-sigma25": {
        "NLM (paper)": {"F16": 31.34, "baboon": 25.62, "hill": 31.49, "kodim01": 27.55, "kodim02": 30.72,
                        "kodim03": 32.41, "kodim12": 31.74, "lena": 30.88, "peppers": 30.34},
        "CBM3D (paper)": {"F16": 32.67, "baboon": 26.01, "hill": 32.72, "kodim01": 29.20,
                          "kodim02": 32.16, "kodim03": 34.03, "kodim12": 33.14, "lena": 32.06,
                          "peppers": 30.75},
        "DIP (paper)": {"F16": 33.69, "baboon": 24.51, "hill": 32.09, "kodim01": 28.44, "kodim02": 32.71,
                        "kodim03": 33.79, "kodim12": 32.68, "lena": 32.56, "peppers": 31.15},
    },
    "inpaint-50pct": {
        "CSC (paper)": {"barbara": 28.13, "boat": 31.42, "house": 34.52, "Lena512": 34.97,
                        "peppers256": 31.11, "Cameraman256": 27.89, "couple": 31.15,
                        "fingerprint": 31.32, "hill": 32.32, "man": 31.89, "montage": 28.06},
        "DIP (paper)": {"barbara": 32.18, "boat": 33.04, "house": 39.00, "Lena512": 36.08,
                        "peppers256": 33.06, "Cameraman256": 29.80, "couple": 32.48,
                        "fingerprint": 32.81, "hill": 32.73, "man": 32.17, "montage": 34.49},
    },
    "sr-x4-set5": {
        "bicubic (paper)": {"baby": 31.78, "bird": 30.20, "butterfly": 22.13, "head": 31.34, "woman": 26.75},
        "TV prior (paper)": {"baby": 31.21, "bird": 30.43, "butterfly": 24.38, "head": 31.34,
                             "woman": 26.93},
        "DIP (paper)": {"baby": 31.49, "bird": 31.80, "butterfly": 26.23, "head": 31.04, "woman": 28.93},
        "SRResNet (paper)": {"baby": 33.66, "bird": 35.10, "butterfly": 28.41, "head": 32.73,
                             "woman": 30.60},
    },
    # The README gives "≈39 dB" for the original implementation (6000 iterations): approximate.
    "text-inpainting": {"DIP (paper, approx.)": {"kate": 39.0}},
}

# Published set averages (the README's bold rows), used when a per-image table is incomplete.
PUBLISHED_AVERAGE: dict[str, dict[str, float]] = {
    "denoise-sigma25": {"NLM (paper)": 30.23, "CBM3D (paper)": 31.42, "DIP (paper)": 31.29},
    "inpaint-50pct": {"CSC (paper)": 31.16, "DIP (paper)": 33.44},
    "sr-x4-set5": {"bicubic (paper)": 28.44, "TV prior (paper)": 28.86, "DIP (paper)": 29.90,
                   "SRResNet (paper)": 32.10},
    "text-inpainting": {"DIP (paper, approx.)": 39.0},
}

# The README's classical baselines measured on a 2-core CPU (denoise-sigma25, average of 9 images).
README_CPU_BASELINES = [
    ("BM3D (`bm3d` package, colour)", 31.51, "27.7"),
    ("scikit-image `denoise_nl_means`", 29.10, "0.5"),
    ("scikit-image `denoise_tv_chambolle`", 28.54, "0.4"),
    ("scikit-image `denoise_wavelet`", 27.93, "< 0.1"),
]

# The original recipe's cost per training step on such a CPU (README), seconds.
README_PAPER_STEP_SECONDS = {"256x256": 1.2, "512x512": 5.7}
