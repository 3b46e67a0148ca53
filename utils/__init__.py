"""Utilities around IFRNet: warping, flow and image I/O, padding, metrics, devices, CLI errors."""
from utils.errors import InputError
from utils.flow_io import read_flo, read_flow, read_pfm, write_flo, write_pfm
from utils.image_io import ImageError, image_to_tensor, read_image, save_gif, tensor_to_image, write_image
from utils.metrics import calculate_ie, calculate_psnr, calculate_ssim
from utils.padding import InputPadder
from utils.warp import resize, warp

__all__ = [
    "InputError",
    "ImageError",
    "read_flo",
    "write_flo",
    "read_pfm",
    "write_pfm",
    "read_flow",
    "read_image",
    "write_image",
    "image_to_tensor",
    "tensor_to_image",
    "save_gif",
    "calculate_psnr",
    "calculate_ssim",
    "calculate_ie",
    "InputPadder",
    "warp",
    "resize",
]
