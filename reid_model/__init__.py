"""reid_model: the re-identification adversary (a triplet-network embedder), its data, training and evaluation."""

from reid_model.augmentation import Augmentation, augment
from reid_model.checkpoint import CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from reid_model.color_stripes import ColorStripeEmbedder, stripe_histograms
from reid_model.data import DatasetError, Sample, load_dataset, load_folder, load_market1501, load_viper
from reid_model.embedders import ARCHITECTURES, Embedder, StripeEmbedder, TripletEmbedder, build_embedder
from reid_model.evaluation import evaluate, evaluate_embeddings, retrieval_metrics, seed_error
from reid_model.handcrafted import HandcraftedMatcher, fit_xqda, lomo_features
from reid_model.inference import embed
from reid_model.io import (
    ImageReadError,
    is_image_file,
    load_images,
    read_image,
    resize,
    write_bytes_atomic,
    write_image,
)
from reid_model.losses import (
    MarginTripletLoss,
    SoftmaxTripletLoss,
    margin_triplet_loss,
    softmax_triplet_loss,
    triplet_distances,
)
from reid_model.metrics import cmc_map, condition_c, triplet_error
from reid_model.pretrained import (
    default_gallery,
    default_metadata,
    default_weights_path,
    load_default,
    load_gallery,
)
from reid_model.sampling import PersonBatchSampler, TripletSampler, batch_triplets
from reid_model.splits import (
    Split,
    load_splits,
    person_ids,
    save_splits,
    seed_split,
    select,
    viper_protocol_splits,
)
from reid_model.training import TrainConfig, make_split, train

__all__ = [
    "ARCHITECTURES",
    "Augmentation",
    "CheckpointError",
    "ColorStripeEmbedder",
    "DatasetError",
    "Embedder",
    "HandcraftedMatcher",
    "ImageReadError",
    "MarginTripletLoss",
    "PersonBatchSampler",
    "Sample",
    "SoftmaxTripletLoss",
    "Split",
    "StripeEmbedder",
    "TrainConfig",
    "TripletEmbedder",
    "TripletSampler",
    "augment",
    "batch_triplets",
    "build_embedder",
    "cmc_map",
    "condition_c",
    "default_gallery",
    "default_metadata",
    "default_weights_path",
    "embed",
    "evaluate",
    "evaluate_embeddings",
    "fit_xqda",
    "is_image_file",
    "load_checkpoint",
    "load_dataset",
    "load_default",
    "load_folder",
    "load_gallery",
    "load_images",
    "load_market1501",
    "load_splits",
    "load_viper",
    "lomo_features",
    "make_split",
    "margin_triplet_loss",
    "person_ids",
    "read_image",
    "read_metadata",
    "resize",
    "retrieval_metrics",
    "save_checkpoint",
    "save_splits",
    "seed_error",
    "seed_split",
    "select",
    "softmax_triplet_loss",
    "stripe_histograms",
    "train",
    "triplet_distances",
    "triplet_error",
    "viper_protocol_splits",
    "write_bytes_atomic",
    "write_image",
]
