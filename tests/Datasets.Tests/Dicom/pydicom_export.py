#!/usr/bin/env python3
"""Exports pydicom's reading of DICOM files, as the reference our DICOM reader is tested against.

Usage: pydicom_export.py OUT_DIR

1. Makes extra test files under OUT_DIR/synthetic: pixel formats pydicom's own test files lack (written with
   pydicom), files transcoded by GDCM (JPEG lossless, JPEG-LS, JPEG 2000, RLE, 12-bit JPEG), and lossless JPEGs with
   every predictor written by the small encoder below (decoded by GDCM through pydicom, so the reference is GDCM's).
2. For every file under pydicom's data/test_files and every synthetic file, writes what pydicom reads:
   - <id>.raw.npy: ds.pixel_array (stored values, before any LUT)
   - <id>.modality.npy: apply_modality_lut() of the stored values masked to Bits Stored (sign-extended when signed),
     the convention our reader documents (pydicom 2.3 itself does not mask)
   - <id>.voi<i>.npy: apply_voi_lut(modality, ds, index=i) for each window / VOI LUT (monochrome only)
   - <id>.color.npy: apply_color_lut() for PALETTE COLOR, convert_color_space(..., 'RGB') for YBR_FULL(_422)
   and OUT_DIR/index.json: one entry per file with its category, error messages and header values.
Each LUT step runs on a freshly read dataset, because pydicom's pixel handlers may change the dataset they decode.
"""
import json
import os
import struct
import sys
import traceback
import warnings

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset, Dataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian,
                         DeflatedExplicitVRLittleEndian, UID)
from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut, apply_color_lut, convert_color_space

warnings.simplefilter("ignore")

SKIP_EXT = {".txt", ".json", ".gz", ".dump", ".py", ".pyc"}
rng = np.random.RandomState(1234)


def uid(n):
    return UID("1.2.826.0.1.3680043.8.498.%d" % n)


def new_file(path, ts=ExplicitVRLittleEndian, sop=1):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.7")
    meta.MediaStorageSOPInstanceUID = uid(sop)
    meta.TransferSyntaxUID = ts
    meta.ImplementationClassUID = uid(999)
    ds = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.is_little_endian = ts != ExplicitVRBigEndian
    ds.is_implicit_VR = ts == ImplicitVRLittleEndian
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID = "SYN-%03d" % (sop % 7)
    ds.StudyInstanceUID = uid(1000 + sop)
    ds.SeriesInstanceUID = uid(2000 + sop)
    ds.Modality = "CR"
    ds.ViewPosition = "PA"
    ds.PixelSpacing = [0.139, 0.14]
    return ds


def image(ds, arr, bits_stored=None, signed=False, photometric="MONOCHROME2", planar=0, frames=None, big=False):
    """Sets the image pixel module from arr ([frames,] rows, cols[, samples]) and stores its bytes."""
    bits = arr.dtype.itemsize * 8
    ds.BitsAllocated = bits
    ds.BitsStored = bits_stored or bits
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.PhotometricInterpretation = photometric
    samples = arr.shape[-1] if photometric not in ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR") else 1
    ds.SamplesPerPixel = samples
    if frames:
        ds.NumberOfFrames = frames
    shape = arr.shape[1:] if frames else arr.shape
    ds.Rows, ds.Columns = shape[0], shape[1]
    data = arr
    if samples > 1:
        ds.PlanarConfiguration = planar
        if planar == 1:
            data = np.moveaxis(arr, -1, -3)  # [..., S, R, C]
    data = np.ascontiguousarray(data)
    if big:
        data = data.astype(data.dtype.newbyteorder(">"))
    ds.PixelData = data.tobytes()


def save(ds, path):
    ds.save_as(path, write_like_original=False)
    return path


# ---- A small lossless JPEG encoder (ITU T.81 process 14), used only to make test files with every predictor. ----

def _ljpeg(arr, precision, predictor, restart_rows=0, pt=0):
    """arr: [rows, cols] or [rows, cols, comps] unsigned ints. Returns a JPEG stream (SOF3, one scan, interleaved)."""
    a = arr if arr.ndim == 3 else arr[:, :, None]
    rows, cols, nc = a.shape
    x = (a.astype(np.int64) >> pt)
    out = bytearray(b"\xff\xd8")
    sof = struct.pack(">BHHB", precision, rows, cols, nc) + b"".join(struct.pack(">BBB", c + 1, 0x11, 0) for c in range(nc))
    out += b"\xff\xc3" + struct.pack(">H", len(sof) + 2) + sof
    # One table: categories 0..16, each with a 5-bit code (17 of the 32 codes).
    counts = [0] * 16
    counts[4] = 17
    dht = bytes([0x00]) + bytes(counts) + bytes(range(17))
    out += b"\xff\xc4" + struct.pack(">H", len(dht) + 2) + dht
    if restart_rows:
        out += b"\xff\xdd" + struct.pack(">HH", 4, restart_rows * cols)
    sos = bytes([nc]) + b"".join(bytes([c + 1, 0x00]) for c in range(nc)) + bytes([predictor, 0, pt])
    out += b"\xff\xda" + struct.pack(">H", len(sos) + 2) + sos

    bits = []

    def flush(align):
        nonlocal bits
        while align and len(bits) % 8:
            bits.append(1)
        whole = len(bits) - len(bits) % 8
        for i in range(0, whole, 8):
            b = int("".join(map(str, bits[i:i + 8])), 2)
            out.append(b)
            if b == 0xFF:
                out.append(0)
        bits = bits[whole:]

    initial = 1 << (precision - pt - 1)
    rst = 0
    first_row = 0
    for r in range(rows):
        if restart_rows and r > 0 and r % restart_rows == 0:
            flush(True)
            out += bytes([0xFF, 0xD0 + rst])
            rst = (rst + 1) % 8
            first_row = r
        for c in range(cols):
            for k in range(nc):
                if r == first_row:
                    pred = initial if c == 0 else x[r, c - 1, k]
                elif c == 0:
                    pred = x[r - 1, c, k]
                else:
                    ra, rb, rc = x[r, c - 1, k], x[r - 1, c, k], x[r - 1, c - 1, k]
                    pred = {1: ra, 2: rb, 3: rc, 4: ra + rb - rc, 5: ra + ((rb - rc) >> 1),
                            6: rb + ((ra - rc) >> 1), 7: (ra + rb) >> 1}[predictor]
                diff = int((x[r, c, k] - pred) % 65536)
                if diff >= 32768:
                    diff -= 65536
                s = 0 if diff == 0 else abs(diff).bit_length()
                bits.extend(int(b) for b in format(s, "05b"))
                if 0 < s < 16:
                    v = diff if diff > 0 else diff + (1 << s) - 1
                    bits.extend(int(b) for b in format(v, "0%db" % s))
            if len(bits) > 4096:
                flush(False)
    flush(True)
    out += b"\xff\xd9"
    return bytes(out)


def gdcm_transcode(src, dst, ts_name, lossy_error=None, reversible=None, quality=None):
    """Runs the transcoding in a child process: GDCM aborts the process on some inputs (assertions)."""
    import subprocess
    args = [sys.executable, os.path.abspath(__file__), "--transcode", src, dst, ts_name,
            str(lossy_error), str(reversible), str(quality)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if r.returncode != 0 or not os.path.exists(dst):
        raise RuntimeError("gdcm could not transcode %s to %s (exit %d)" % (os.path.basename(src), ts_name, r.returncode))
    return dst


def _gdcm_transcode(src, dst, ts_name, lossy_error=None, reversible=None, quality=None):
    import gdcm
    reader = gdcm.ImageReader()
    reader.SetFileName(src)
    if not reader.Read():
        raise RuntimeError("gdcm cannot read " + src)
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(getattr(gdcm.TransferSyntax, ts_name)))
    if lossy_error is not None:
        codec = gdcm.JPEGLSCodec()
        codec.SetLossless(False)
        codec.SetLossyError(lossy_error)
        change.SetUserCodec(codec)
    if reversible is not None:
        codec = gdcm.JPEG2000Codec()
        codec.SetReversible(reversible)
        if quality:
            codec.SetQuality(0, quality)
        change.SetUserCodec(codec)
    change.SetInput(reader.GetImage())
    if not change.Change():
        raise RuntimeError("gdcm cannot transcode %s to %s" % (src, ts_name))
    writer = gdcm.ImageWriter()
    writer.SetFileName(dst)
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    if not writer.Write():
        raise RuntimeError("gdcm cannot write " + dst)
    return dst


def make_synthetic(folder):
    os.makedirs(folder, exist_ok=True)
    made = []
    P = lambda n: os.path.join(folder, n)

    def add(fn, *args, **kw):
        try:
            made.append(fn(*args, **kw))
        except Exception as e:  # a generator that fails is reported, not fatal
            print("synthetic file not made: %s: %s" % (args[0] if args else fn.__name__, e), file=sys.stderr)

    def u8(path):
        ds = new_file(path, sop=1)
        image(ds, rng.randint(0, 256, (37, 41)).astype(np.uint8))
        ds.WindowCenter, ds.WindowWidth = 100, 120
        return save(ds, path)

    def i8(path):
        ds = new_file(path, sop=2)
        image(ds, rng.randint(-128, 128, (16, 20)).astype(np.int8), signed=True)
        return save(ds, path)

    def u16_mask(path):
        # 12 stored bits with overlay-like garbage in the top 4 bits; two windows; rescale.
        ds = new_file(path, sop=3)
        a = rng.randint(0, 4096, (64, 48)).astype(np.uint16) | (rng.randint(0, 16, (64, 48)).astype(np.uint16) << 12)
        image(ds, a, bits_stored=12)
        ds.WindowCenter = [2000, 1000.5]
        ds.WindowWidth = [1500, 301]
        ds.RescaleSlope, ds.RescaleIntercept = "0.5", "-100"
        return save(ds, path)

    def i16_mono1(path):
        ds = new_file(path, sop=4)
        image(ds, rng.randint(-2048, 2048, (50, 30)).astype(np.int16), bits_stored=12, signed=True, photometric="MONOCHROME1")
        ds.WindowCenter, ds.WindowWidth = 0, 2000
        return save(ds, path)

    def i16_unextended(path):
        # Signed 12-bit values stored without sign extension in the top bits.
        ds = new_file(path, sop=5)
        a = rng.randint(-2048, 2048, (20, 20)).astype(np.int16)
        image(ds, (a.astype(np.uint16) & 0x0FFF).astype(np.int16), bits_stored=12, signed=True)
        return save(ds, path)

    def i32(path):
        ds = new_file(path, sop=6)
        image(ds, rng.randint(-2**31, 2**31 - 1, (12, 10), dtype=np.int64).astype(np.int32), signed=True)
        ds.RescaleSlope, ds.RescaleIntercept = "1e-3", "0"
        return save(ds, path)

    def u32_frames(path):
        ds = new_file(path, sop=7)
        image(ds, rng.randint(0, 2**32 - 1, (3, 9, 11), dtype=np.uint64).astype(np.uint32), frames=3)
        return save(ds, path)

    def bits1(path):
        ds = new_file(path, sop=8)
        a = rng.randint(0, 2, (3, 5, 7)).astype(np.uint8)  # 35 bits per frame: frames are not byte aligned
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 1, 0, 0
        ds.PhotometricInterpretation, ds.SamplesPerPixel = "MONOCHROME2", 1
        ds.NumberOfFrames, ds.Rows, ds.Columns = 3, 5, 7
        flat = a.ravel()
        flat = np.concatenate([flat, np.zeros((-len(flat)) % 8, np.uint8)])
        ds.PixelData = np.packbits(flat.reshape(-1, 8)[:, ::-1], axis=1).tobytes()
        return save(ds, path)

    def rgb_planar(path, planar, dtype):
        ds = new_file(path, sop=9 + planar)
        hi = 256 if dtype == np.uint8 else 65536
        image(ds, rng.randint(0, hi, (13, 17, 3)).astype(dtype), photometric="RGB", planar=planar)
        return save(ds, path)

    def ybr_full(path):
        ds = new_file(path, sop=11)
        image(ds, rng.randint(0, 256, (16, 18, 3)).astype(np.uint8), photometric="YBR_FULL")
        return save(ds, path)

    def palette(path, depth, first):
        ds = new_file(path, sop=12 + depth)
        image(ds, rng.randint(0, 256, (24, 20)).astype(np.uint8), photometric="PALETTE COLOR")
        n = 200
        lut = rng.randint(0, 2 ** depth, (3, n))
        for i, name in enumerate(("Red", "Green", "Blue")):
            ds.add_new(0x00281101 + i, "US", [n, first, depth])
            data = lut[i].astype(np.uint16 if depth == 16 else np.uint8).tobytes()
            ds.add_new(0x00281201 + i, "OW", data)
        return save(ds, path)

    def voi_lut(path, signed, first, vr):
        ds = new_file(path, sop=30 + signed)
        if signed:
            image(ds, rng.randint(-1000, 3000, (30, 30)).astype(np.int16), bits_stored=16, signed=True)
        else:
            image(ds, rng.randint(0, 4096, (30, 30)).astype(np.uint16), bits_stored=12)
        item = Dataset()
        n = 3000
        item.add_new(0x00283002, "US" if first >= 0 else "SS", [n, first, 12])
        lut = np.clip(np.arange(n) * 4095 // (n - 1) + rng.randint(-3, 4, n), 0, 4095).astype(np.uint16)
        if vr == "OW":
            item.add_new(0x00283006, "OW", lut.tobytes())
        else:
            item.add_new(0x00283006, "US", [int(v) for v in lut])
        ds.VOILUTSequence = Sequence([item])
        ds.WindowCenter, ds.WindowWidth = 500, 1000  # the LUT is preferred
        return save(ds, path)

    def modality_lut(path):
        ds = new_file(path, sop=40)
        image(ds, rng.randint(0, 1024, (20, 24)).astype(np.uint16), bits_stored=10)
        item = Dataset()
        item.add_new(0x00283002, "US", [800, 100, 16])
        item.add_new(0x00283006, "OW", (rng.randint(0, 65536, 800).astype(np.uint16)).tobytes())
        item.ModalityLUTType = "US"
        ds.ModalityLUTSequence = Sequence([item])
        ds.WindowCenter, ds.WindowWidth = 30000, 20000
        return save(ds, path)

    def voi_function(path, function, width):
        ds = new_file(path, sop=41)
        image(ds, rng.randint(-500, 1500, (20, 20)).astype(np.int16), bits_stored=12, signed=True)
        ds.RescaleSlope, ds.RescaleIntercept = "2", "-1024"
        ds.WindowCenter, ds.WindowWidth = 40, width
        ds.VOILUTFunction = function
        return save(ds, path)

    def transfer_syntax(path, ts, big=False):
        ds = new_file(path, ts=ts, sop=50)
        a = rng.randint(0, 4096, (2, 21, 19)).astype(np.uint16)
        image(ds, a, bits_stored=12, frames=2, big=big)
        ds.WindowCenter, ds.WindowWidth = 2048, 4096
        # Sequences of defined and undefined length, nested, and a private block, before the pixel data.
        inner = Dataset()
        inner.CodeValue, inner.CodingSchemeDesignator, inner.CodeMeaning = "T-D3000", "SRT", "Chest"
        outer = Dataset()
        outer.AnatomicRegionSequence = Sequence([inner])
        ds.add_new(0x00082218, "SQ", Sequence([outer]))
        ds.add_new(0x00091010, "LO", "PRIVATE CREATOR")
        ds.add_new(0x00091011, "OB", b"\x01\x02\x03\x04")
        priv_item = Dataset()
        priv_item.add_new(0x00091010, "LO", "NESTED")
        ds.add_new(0x00091012, "SQ", Sequence([priv_item]))
        return save(ds, path)

    def handmade_odd(path):
        # Explicit VR little endian written byte by byte: an odd-length private OB, an odd-length LO, an undefined
        # length sequence with an undefined-length item, then 8-bit pixels of odd length (padding byte missing).
        def el(g, e, vr, value):
            if vr in ("OB", "OW", "SQ", "UN", "UT"):
                return struct.pack("<HH2sHI", g, e, vr.encode(), 0, len(value)) + value
            return struct.pack("<HH2sH", g, e, vr.encode(), len(value)) + value
        body = b""
        body += el(0x0008, 0x0060, "CS", b"DX")
        body += el(0x0010, 0x0020, "LO", b"ODD")  # 3 bytes, not padded
        body += el(0x0011, 0x0010, "LO", b"ACME 1.0")
        body += el(0x0011, 0x1001, "OB", b"\x07\x08\x09")  # odd-length private OB
        item = el(0x0008, 0x0100, "SH", b"CODE")
        body += struct.pack("<HH2sHI", 0x0011, 0x1002, b"SQ", 0, 0xFFFFFFFF)
        body += struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF) + item + struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
        body += struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
        body += el(0x0028, 0x0002, "US", struct.pack("<H", 1))
        body += el(0x0028, 0x0004, "CS", b"MONOCHROME2 ")
        body += el(0x0028, 0x0010, "US", struct.pack("<H", 3))
        body += el(0x0028, 0x0011, "US", struct.pack("<H", 5))
        body += el(0x0028, 0x0100, "US", struct.pack("<H", 8))
        body += el(0x0028, 0x0101, "US", struct.pack("<H", 8))
        body += el(0x0028, 0x0102, "US", struct.pack("<H", 7))
        body += el(0x0028, 0x0103, "US", struct.pack("<H", 0))
        body += el(0x7FE0, 0x0010, "OB", bytes(range(100, 115)))  # 15 bytes: odd, no padding byte
        ts = b"1.2.840.10008.1.2.1\0"
        meta = el(0x0002, 0x0001, "OB", b"\x00\x01") + el(0x0002, 0x0010, "UI", ts)
        meta = el(0x0002, 0x0000, "UL", struct.pack("<I", len(meta))) + meta
        with open(path, "wb") as f:
            f.write(b"\0" * 128 + b"DICM" + meta + body)
        return path

    def lossless(path, predictor, bits, comps, restart_rows=0, pt=0, ts="1.2.840.10008.1.2.4.57"):
        ds = new_file(path, ts=UID(ts), sop=60 + predictor)
        shape = (23, 29) if comps == 1 else (23, 29, 3)
        # Smooth ramps plus noise, so that every predictor has real work and wraps modulo 2^16 are exercised.
        base = (np.add.outer(np.arange(shape[0]) * 37, np.arange(shape[1]) * 53) % (1 << bits))
        a = (base[..., None] if comps == 3 else base) + rng.randint(0, 1 << min(bits, 6), shape)
        a = (a % (1 << bits)).astype(np.uint16 if bits > 8 else np.uint8)
        a = (a >> pt) << pt
        image(ds, a, bits_stored=bits, photometric="RGB" if comps == 3 else "MONOCHROME2")
        ds.PixelData = encapsulate([_ljpeg(a, bits, predictor, restart_rows, pt)])
        ds["PixelData"].is_undefined_length = True
        ds["PixelData"].VR = "OB"
        return save(ds, path)

    def pil_jpeg(path, w, h, subsampling, photometric, gray=False, extended=False):
        # Pillow (libjpeg-turbo) writes the JPEG; GDCM decodes it for pydicom, so the reference is GDCM's libjpeg.
        import io
        from PIL import Image
        shape = (h, w) if gray else (h, w, 3)
        smooth = np.add.outer(np.arange(h) * 5, np.arange(w) * 3)
        a = ((smooth[..., None] if not gray else smooth) + rng.randint(0, 60, shape)) % 256
        a = a.astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, "JPEG", quality=85, subsampling=subsampling)
        jpeg = buf.getvalue()
        if extended:
            # A baseline stream is a valid extended (SOF1) stream: relabel it to test the 8-bit extended path.
            jpeg = jpeg.replace(b"\xff\xc0", b"\xff\xc1", 1)
        ds = new_file(path, ts=UID("1.2.840.10008.1.2.4.51" if extended else "1.2.840.10008.1.2.4.50"), sop=70 + subsampling)
        image(ds, a, photometric=photometric)
        ds.PixelData = encapsulate([jpeg])
        ds["PixelData"].is_undefined_length = True
        ds["PixelData"].VR = "OB"
        return save(ds, path)

    add(u8, P("syn_u8.dcm"))
    add(i8, P("syn_i8.dcm"))
    add(u16_mask, P("syn_u16_mask12_two_windows.dcm"))
    add(i16_mono1, P("syn_i16_monochrome1.dcm"))
    add(i16_unextended, P("syn_i16_not_sign_extended.dcm"))
    add(i32, P("syn_i32_rescale.dcm"))
    add(u32_frames, P("syn_u32_3frames.dcm"))
    add(bits1, P("syn_1bit_3frames.dcm"))
    add(rgb_planar, P("syn_rgb8_planar1.dcm"), 1, np.uint8)
    add(rgb_planar, P("syn_rgb16_planar0.dcm"), 0, np.uint16)
    add(ybr_full, P("syn_ybr_full.dcm"))
    add(palette, P("syn_palette16.dcm"), 16, 10)
    add(palette, P("syn_palette8.dcm"), 8, 0)
    add(voi_lut, P("syn_voi_lut_ow.dcm"), 0, 0, "OW")
    add(voi_lut, P("syn_voi_lut_us_signed.dcm"), 1, -100, "US")
    add(modality_lut, P("syn_modality_lut.dcm"))
    add(voi_function, P("syn_voi_sigmoid.dcm"), "SIGMOID", 300)
    add(voi_function, P("syn_voi_linear_exact.dcm"), "LINEAR_EXACT", 0.5)
    add(voi_function, P("syn_voi_linear_width_below_1.dcm"), "LINEAR", 0.5)
    add(transfer_syntax, P("syn_ts_explicit_le.dcm"), ExplicitVRLittleEndian)
    add(transfer_syntax, P("syn_ts_implicit_le.dcm"), ImplicitVRLittleEndian)
    add(transfer_syntax, P("syn_ts_explicit_be.dcm"), ExplicitVRBigEndian, True)
    add(transfer_syntax, P("syn_ts_deflated.dcm"), DeflatedExplicitVRLittleEndian)
    add(handmade_odd, P("syn_handmade_odd_lengths.dcm"))
    for pred in range(1, 8):
        add(lossless, P("syn_ljpeg_p%d_16bit.dcm" % pred), pred, 16, 1)
    add(lossless, P("syn_ljpeg_sv1_12bit_restart.dcm"), 1, 12, 1, 5, 0, "1.2.840.10008.1.2.4.70")
    add(lossless, P("syn_ljpeg_p6_rgb8_restart.dcm"), 6, 8, 3, 2)
    add(lossless, P("syn_ljpeg_p7_16bit_pt2.dcm"), 7, 16, 1, 0, 2)
    add(pil_jpeg, P("pil_jpeg_420_37x23.dcm"), 37, 23, 2, "YBR_FULL_422")
    add(pil_jpeg, P("pil_jpeg_422_31x17.dcm"), 31, 17, 1, "YBR_FULL_422")
    add(pil_jpeg, P("pil_jpeg_444_20x20.dcm"), 20, 20, 0, "YBR_FULL")
    add(pil_jpeg, P("pil_jpeg_420_3x5.dcm"), 3, 5, 2, "YBR_FULL_422")
    add(pil_jpeg, P("pil_jpeg_gray_33x19.dcm"), 33, 19, 0, "MONOCHROME2", True)
    add(pil_jpeg, P("pil_jpeg_extended8_420.dcm"), 45, 30, 2, "YBR_FULL_422", False, True)

    # GDCM transcodings of pydicom's files and of the synthetic ones.
    test_files = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
    ct = os.path.join(test_files, "CT_small.dcm")
    mr = os.path.join(test_files, "MR_small.dcm")
    rgb = os.path.join(folder, "syn_rgb8_planar1.dcm")
    u16 = os.path.join(folder, "syn_ts_explicit_le.dcm")
    for src, tag in ((ct, "ct"), (mr, "mr"), (u16, "u16x2")):
        add(gdcm_transcode, src, P("gdcm_%s_jpeg_lossless_sv1.dcm" % tag), "JPEGLosslessProcess14_1")
        add(gdcm_transcode, src, P("gdcm_%s_jpegls.dcm" % tag), "JPEGLSLossless")
        add(gdcm_transcode, src, P("gdcm_%s_jpegls_near.dcm" % tag), "JPEGLSNearLossless", lossy_error=3)
        add(gdcm_transcode, src, P("gdcm_%s_j2k_lossless.dcm" % tag), "JPEG2000Lossless")
        add(gdcm_transcode, src, P("gdcm_%s_j2k_lossy.dcm" % tag), "JPEG2000", reversible=False, quality=40)
        add(gdcm_transcode, src, P("gdcm_%s_rle.dcm" % tag), "RLELossless")
    # (GDCM writes 16-bit sources as a non-standard 16-bit DCT JPEG, which our reader refuses: not made here.)
    for t in ("JPEGBaselineProcess1", "JPEGLosslessProcess14_1", "JPEGLSLossless"):
        add(gdcm_transcode, rgb, P("gdcm_rgb8_%s.dcm" % t), t)
    return made


def capture_stderr(fn):
    """Runs fn with file descriptor 2 redirected, returning (result, what the native libraries printed)."""
    import tempfile
    with tempfile.TemporaryFile() as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            result = fn()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        return result, tmp.read().decode("utf-8", "replace")


def masked(arr, ds, compressed):
    """The LUT input our reader documents: native data masked to Bits Stored (sign-extended when signed); compressed
    data as decoded, except signed values still in the unextended 0..2^BitsStored-1 pattern, which are sign-extended."""
    bs = int(ds.BitsStored)
    ba = int(ds.BitsAllocated)
    if ba == 1 or bs >= ba:
        return arr
    a = arr.astype(np.int64)
    m = a & ((1 << bs) - 1)
    if int(ds.PixelRepresentation) == 1:
        m = np.where(m >= (1 << (bs - 1)), m - (1 << bs), m)
    if compressed:
        m = np.where((a < 0) | (a > (1 << bs) - 1), a, m)
    return m.astype(arr.dtype.newbyteorder("="))


def header(ds):
    def get(k):
        v = ds.get(k)
        if v is None or v == "":
            return None
        if k == "PixelSpacing":
            return [float(x) for x in v]
        if k in ("Rows", "Columns", "NumberOfFrames"):
            return int(v)
        return str(v)
    return {k: get(k) for k in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "Modality", "ViewPosition",
                                "PixelSpacing", "Rows", "Columns", "NumberOfFrames", "PhotometricInterpretation")}


def export(path, out, key, index):
    entry = {"id": key, "path": path}
    index.append(entry)
    try:
        ds = pydicom.dcmread(path, force=True)
    except Exception as e:
        entry.update(category="unreadable", error="%s: %s" % (type(e).__name__, e))
        return
    entry["transfer_syntax"] = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "")
    try:
        entry["header"] = header(ds)
    except Exception as e:
        entry["header_error"] = "%s: %s" % (type(e).__name__, e)
    if "PixelData" not in ds:
        entry["category"] = "no_pixel_data"
        return
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if ts is not None and not any(h.supports_transfer_syntax(ts) and h.is_available() for h in pydicom.config.pixel_data_handlers):
        # No pydicom plugin installed here can decode it (GDCM missing, say): no reference, not a pydicom failure.
        entry["category"] = "no_reference"
        return
    try:
        arr, gdcm_log = capture_stderr(lambda: ds.pixel_array)
    except Exception as e:
        from pydicom.pixel_data_handlers import gdcm_handler
        # Without GDCM the remaining plugins have gaps (12-bit JPEG, JP2 files): a failure then says nothing about the file.
        limited = ts is not None and ts.is_compressed and not gdcm_handler.is_available()
        entry.update(category="no_reference" if limited else "pixel_error", error="%s: %s" % (type(e).__name__, str(e)[:300]))
        return
    errors = [l for l in gdcm_log.splitlines() if l.startswith("Error:") or "failure" in l or "failed" in l]
    if errors:
        # GDCM reported that decoding failed, yet pydicom returned its (unwritten) output buffer: not a decode.
        entry.update(category="pixel_error", error="GDCM failed but pydicom returned data: " + " | ".join(errors)[:300])
        return
    arr = arr.astype(arr.dtype.newbyteorder("<"))
    entry.update(category="decoded", dtype=str(arr.dtype), shape=list(arr.shape))
    np.save(os.path.join(out, key + ".raw.npy"), arr)
    fresh = pydicom.dcmread(path, force=True)
    pi = str(fresh.get("PhotometricInterpretation", ""))
    try:
        ts = getattr(getattr(fresh, "file_meta", None), "TransferSyntaxUID", None)
        m = masked(arr, fresh, bool(ts is not None and ts.is_compressed))
        entry["mask_changed"] = bool(not np.array_equal(m, arr))
        mod = apply_modality_lut(m, fresh)
        np.save(os.path.join(out, key + ".modality.npy"), np.asarray(mod).astype(np.asarray(mod).dtype.newbyteorder("<")))
        entry["modality"] = True
        if pi in ("MONOCHROME1", "MONOCHROME2"):
            windows = 1
            if "WindowCenter" in fresh:
                wc = fresh["WindowCenter"]
                windows = max(windows, wc.VM)
            if fresh.get("VOILUTSequence"):
                windows = max(windows, len(fresh.VOILUTSequence))
            entry["voi"] = []
            for i in range(windows):
                try:
                    v = apply_voi_lut(mod, pydicom.dcmread(path, force=True), index=i)
                    np.save(os.path.join(out, "%s.voi%d.npy" % (key, i)), np.asarray(v).astype(np.asarray(v).dtype.newbyteorder("<")))
                    entry["voi"].append(None)
                except Exception as e:
                    entry["voi"].append("%s: %s" % (type(e).__name__, e))
    except Exception as e:
        entry["lut_error"] = "%s: %s" % (type(e).__name__, e)
    try:
        if pi == "PALETTE COLOR":
            np.save(os.path.join(out, key + ".color.npy"), apply_color_lut(arr, fresh))
            entry["color"] = True
        elif pi in ("YBR_FULL", "YBR_FULL_422"):
            np.save(os.path.join(out, key + ".color.npy"), convert_color_space(arr.copy(), pi, "RGB"))
            entry["color"] = True
    except Exception as e:
        entry["color_error"] = "%s: %s" % (type(e).__name__, e)


def main():
    if sys.argv[1] == "--transcode":
        src, dst, ts, err, rev, q = sys.argv[2:8]
        conv = lambda v, f: None if v == "None" else f(v)
        _gdcm_transcode(src, dst, ts, conv(err, int), conv(rev, lambda x: x == "True"), conv(q, float))
        return
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    test_files = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
    files = []
    for root, _, names in os.walk(test_files):
        for n in sorted(names):
            if os.path.splitext(n)[1].lower() in SKIP_EXT or n.upper().startswith("README"):
                continue
            files.append(("pydicom", os.path.join(root, n)))
    files.sort()
    for p in make_synthetic(os.path.join(out, "synthetic")):
        files.append(("synthetic", p))
    index = []
    for i, (source, p) in enumerate(files):
        try:
            export(p, out, "%03d" % i, index)
        except Exception:
            index.append({"id": "%03d" % i, "path": p, "category": "export_failed", "error": traceback.format_exc()})
        index[-1]["source"] = source
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"pydicom": pydicom.__version__, "numpy": np.__version__, "test_files": test_files, "files": index}, f, indent=1)
    counts = {}
    for e in index:
        counts[(e["source"], e["category"])] = counts.get((e["source"], e["category"]), 0) + 1
    print(json.dumps({"%s/%s" % k: v for k, v in sorted(counts.items())}))


if __name__ == "__main__":
    main()
