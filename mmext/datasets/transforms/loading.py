"""Image loading that names the file when it cannot be decoded."""
from typing import Optional

import cv2
from mmcv.transforms import LoadImageFromFile
from mmdet.registry import TRANSFORMS
from mmengine.logging import print_log


@TRANSFORMS.register_module()
class ValidatedLoadImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` whose decoding failures name the image.

    For a truncated or corrupt file, mmcv's loader fails with ``AssertionError:
    failed to load image`` (the decoder returned ``None``), ``cv2.error`` (an
    empty file) or a bare ``OSError: image file is truncated`` (pillow
    backend), from deep inside a dataloader worker. This subclass turns all
    of them into one ``OSError`` that names the image path and image id and
    says what is wrong. A file that cannot be read at all (missing,
    unreadable) keeps its own, already named ``OSError``
    (``FileNotFoundError``...); :class:`~mmext.datasets.ValidatedCocoDataset`
    reports missing images at load time anyway.

    With ``ignore_empty=True`` mmcv returns ``None`` for such an image (the
    dataset then draws another one in training); this subclass warns, naming
    the file, instead of skipping it without a word.

    Decoding is unchanged (same backend, flags, outputs); mmdet's
    ``DetInferencer`` looks the loader up by the name ``LoadImageFromFile``
    and does not recognise this one (the project's tools do not use it).

    Args:
        **kwargs: see ``mmcv.transforms.LoadImageFromFile``.
    """

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image of ``results['img_path']``.

        Args:
            results (dict): Result dict from the dataset.

        Returns:
            dict | None: The results with ``img`` (np.ndarray of shape (H, W,
            C) or (H, W)), ``img_shape`` and ``ori_shape``; ``None`` for an
            unreadable image with ``ignore_empty=True``.

        Raises:
            OSError: the image cannot be decoded, naming the file.
        """
        try:
            loaded = super().transform(results)
        except OSError as err:
            if err.filename is not None:
                raise  # the file could not be read: already named
            raise self._decode_error(results, err) from err
        except (AssertionError, cv2.error, ValueError) as err:
            if self.ignore_empty:  # mmcv asserts on None even then
                return self._warn_skip(results, err)
            raise self._decode_error(results, err) from err
        if loaded is None:  # mmcv swallowed the error (ignore_empty=True)
            return self._warn_skip(results, None)
        return loaded

    @staticmethod
    def _describe(results: dict) -> str:
        return (f'image {results.get("img_path")!r} (image id '
                f'{results.get("img_id")})')

    def _decode_error(self, results: dict, err: Exception) -> OSError:
        reason = str(err).strip().splitlines()[-1] if str(err) else type(
            err).__name__
        return OSError(
            f'{self._describe(results)} cannot be decoded: the file is '
            f'truncated, corrupt or not an image ({reason})')

    def _warn_skip(self, results: dict, err: Optional[Exception]) -> None:
        print_log(
            f'skipping {self._describe(results)}: it cannot be read or '
            f'decoded{f" ({err})" if err else ""} (ignore_empty=True)',
            logger='current',
            level=30)
        return None
