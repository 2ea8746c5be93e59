#!/usr/bin/env python3
"""Independent reference for the image decoders: Pillow (python3-pil) makes a set of test images and exports the pixels
it decodes, which tests/Datasets.Tests/PillowParityTests.cs compares with ours.

  pillow_images.py make OUT_DIR             writes the generated set (and ImageMagick-made files when `convert` exists)
  pillow_images.py export OUT_DIR FILE...   writes OUT_DIR/<file name>.raw (pixels) and OUT_DIR/manifest.json

Export rules (what "decoded like Pillow" means here): the first frame; ImageOps.exif_transpose (EXIF orientation);
greyscale modes stay one channel (16-bit grey as little-endian uint16, everything else 8-bit); any alpha is composited
onto white; every other mode is converted to RGB by Pillow. A file Pillow cannot open is recorded with its error.
`export --draft W H` also asks the JPEG decoder for DCT-scaled output (Image.draft) of at least W x H.
"""
import json
import os
import random
import shutil
import subprocess
import sys

from PIL import Image, ImageOps


def pattern(w, h, seed):
    rnd = random.Random(seed)
    im = Image.new("RGB", (w, h))
    px = im.load()
    for y in range(h):
        for x in range(w):
            # Smooth ramps plus a little noise and a sharp edge: exercises the IDCT, chroma upsampling and filters.
            n = rnd.randint(0, 24)
            edge = 80 if (x > w // 2) != (y > h // 2) else 0
            px[x, y] = ((x * 255 // max(1, w - 1) + n) % 256, (y * 255 // max(1, h - 1) + edge) % 256, ((x + y) * 3 + n) % 256)
    return im


def exif_with_orientation(o):
    exif = Image.Exif()
    exif[0x0112] = o
    return exif


def make(out):
    os.makedirs(out, exist_ok=True)
    rgb = pattern(96, 64, 1)
    rgba = rgb.copy()
    rgba.putalpha(Image.linear_gradient("L").resize(rgb.size))
    gray = rgb.convert("L")
    p = lambda name: os.path.join(out, name)

    rgb.save(p("jpeg_baseline.jpg"), quality=90)
    rgb.save(p("jpeg_444.jpg"), quality=92, subsampling=0)
    rgb.save(p("jpeg_progressive.jpg"), quality=85, progressive=True)
    gray.save(p("jpeg_gray.jpg"), quality=90)
    rgb.convert("CMYK").save(p("jpeg_cmyk.jpg"), quality=90)
    big = pattern(640, 480, 2)
    big.save(p("jpeg_big.jpg"), quality=90)
    big.save(p("jpeg_big_progressive.jpg"), quality=90, progressive=True)
    rgb.save(p("mpo_two_frames.mpo"), format="MPO", save_all=True, append_images=[pattern(96, 64, 3)])
    for o in range(1, 9):
        pattern(60, 40, 10 + o).save(p(f"jpeg_orientation_{o}.jpg"), quality=90, exif=exif_with_orientation(o))
    pattern(60, 40, 30).save(p("png_orientation_6.png"), exif=exif_with_orientation(6))
    pattern(60, 40, 31).save(p("webp_orientation_6.webp"), lossless=True, exif=exif_with_orientation(6))

    rgb.save(p("png_rgb.png"))
    rgba.save(p("png_rgba.png"))
    gray.save(p("png_gray.png"))
    rgb.quantize(64).save(p("png_palette.png"))
    pal = rgb.quantize(16)
    pal.info["transparency"] = 3
    pal.save(p("png_palette_transparent.png"), transparency=3)
    g16 = Image.new("I;16", (80, 50))
    g16.putdata([(x * 811 + y * 1301) % 65536 for y in range(50) for x in range(80)])
    g16.save(p("png16_gray.png"))

    rgb.save(p("webp_lossless.webp"), lossless=True)
    rgb.save(p("webp_lossy.webp"), quality=80)
    rgba.save(p("webp_alpha_lossless.webp"), lossless=True)
    rgb.quantize(32).save(p("gif_palette.gif"))
    rgb.save(p("bmp_rgb24.bmp"))
    rgb.quantize(200).save(p("bmp_palette8.bmp"))

    for comp in ["raw", "tiff_lzw", "tiff_adobe_deflate", "packbits", "jpeg"]:
        rgb.save(p(f"tiff_{comp}.tif"), compression=comp)
    gray.save(p("tiff_gray_lzw.tif"), compression="tiff_lzw")
    rgba.save(p("tiff_rgba_deflate.tif"), compression="tiff_adobe_deflate")
    g16.save(p("tiff16_gray.tif"))
    bilevel = gray.point(lambda v: 255 if v > 128 else 0).convert("1")
    for comp in ["group4", "group3", "raw", "packbits"]:
        bilevel.save(p(f"tiff_bilevel_{comp}.tif"), compression=comp)
    pattern(60, 40, 40).save(p("tiff_orientation_6.tif"), compression="tiff_lzw", exif=exif_with_orientation(6))
    # The same pixels without the tag: Pillow 9.4 mangles the tagged file's pixels (libtiff's RGBA reader), so the
    # stored view is compared with this one.
    pattern(60, 40, 40).save(p("tiff_orientation_none.tif"), compression="tiff_lzw")

    # ImageMagick writes what Pillow cannot: Adam7-interlaced PNG (8 and 16 bit), 16-bit RGB PNG, a YCCK JPEG (its CMYK
    # JPEGs carry Adobe transform 2; Pillow's carry 0, plain CMYK), bilevel CCITT G4 TIFF with its own photometric.
    if shutil.which("convert"):
        src = p("png_rgb.png")
        cmds = [
            ["convert", src, "-interlace", "PNG", "PNG24:" + p("png_interlaced.png")],
            ["convert", src, "-depth", "16", "-interlace", "PNG", "PNG48:" + p("png16_rgb_interlaced.png")],
            ["convert", src, "-depth", "16", "PNG48:" + p("png16_rgb.png")],
            ["convert", src, "-colorspace", "CMYK", "-quality", "90", p("jpeg_cmyk_imagemagick.jpg")],
            ["convert", src, "-compress", "Zip", "-define", "tiff:predictor=2", p("tiff_deflate_predictor.tif")],
            ["convert", src, "-colorspace", "Gray", "-threshold", "50%", "-type", "Bilevel", "-compress", "Group4",
             p("tiff_bilevel_group4_imagemagick.tif")],
        ]
        for c in cmds:
            subprocess.run(c, check=True)


def export(out, files, draft=None):
    os.makedirs(out, exist_ok=True)
    manifest = {}
    for f in files:
        key = os.path.basename(f)
        try:
            im = Image.open(f)
            if draft is not None and im.format == "JPEG":
                im.draft(im.mode, draft)
            im.load()
            orientation = im.getexif().get(0x0112, 1)
            im = ImageOps.exif_transpose(im)
            if im.mode in ("I;16", "I;16L", "I;16B", "I"):
                # Pillow opens a 16-bit grey PNG as 32-bit "I"; its values are the 16-bit samples.
                data, ch, bits = im.convert("I;16").tobytes("raw", "I;16") if im.mode == "I" else im.tobytes("raw", "I;16"), 1, 16
            elif im.mode in ("1", "L"):
                data, ch, bits = im.convert("L").tobytes(), 1, 8
            elif im.mode == "LA" or (im.mode == "P" and "transparency" in im.info) or im.mode in ("RGBA", "PA"):
                rgba = im.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                comp = Image.alpha_composite(white, rgba)
                if im.mode == "LA":
                    data, ch, bits = comp.convert("L").tobytes(), 1, 8
                else:
                    data, ch, bits = comp.convert("RGB").tobytes(), 3, 8
            else:
                data, ch, bits = im.convert("RGB").tobytes(), 3, 8
            with open(os.path.join(out, key + ".raw"), "wb") as fh:
                fh.write(data)
            manifest[key] = {"ok": True, "width": im.size[0], "height": im.size[1], "channels": ch, "bits": bits,
                             "mode": im.mode, "orientation": orientation}
        except Exception as e:  # a file Pillow refuses is a result too
            manifest[key] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    with open(os.path.join(out, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "export":
        args = sys.argv[2:]
        draft = None
        if args[0] == "--draft":
            draft = (int(args[1]), int(args[2]))
            args = args[3:]
        export(args[0], args[1:], draft)
    else:
        sys.exit("usage: pillow_images.py make OUT | export [--draft W H] OUT FILE...")
