"""Training data in Darknet's formats: .data/.names/list/label files, augmentation, threaded batches,
and a synthetic shapes dataset."""
from .files import (DataConfig, DataError, DataWarning, label_path, read_data_cfg, read_labels, read_list,
                    read_names)
from .loader import Augmentation, BatchSource, fill_truth_detection

__all__ = ["Augmentation", "BatchSource", "DataConfig", "DataError", "DataWarning", "fill_truth_detection",
           "label_path", "read_data_cfg", "read_labels", "read_list", "read_names"]
