"""GDAL as the oracle of the COG writer tests (issue 12 "Proof").

usage: check_cog.py COG SOURCE  -> JSON on stdout:
  validator: errors/warnings of GDAL's validate_cloud_optimized_geotiff (full check)
  levels: sizes of the full resolution and overviews
  full: max abs diff / PSNR of IFD 0 against the source on pixels valid in the source
  mask_agreement: share of pixels where the COG's mask equals the source's validity
  overviews[k]: our level k+1 against GDAL's AVERAGE overview (RegenerateOverview) of our level k:
    max abs diff and PSNR on pixels valid in both, and mask agreement
usage: check_cog.py --footprint GEOJSON SOURCE -> IoU of our footprint with gdal.Polygonize of the
  source's validity mask (both in EPSG:4326 lon/lat), validity of our geometry (GEOS).
"""
import json
import math
import sys

import numpy as np
from osgeo import gdal, ogr, osr
from osgeo_utils.samples import validate_cloud_optimized_geotiff as validator

gdal.UseExceptions()


def stats(a, b, valid):
    if not valid.any():
        return {"max": 0.0, "psnr": 99.0, "n": 0}
    d = a[valid].astype(np.float64) - b[valid].astype(np.float64)
    d = d[np.isfinite(d)]
    mse = float(np.mean(d * d)) if d.size else 0.0
    return {"max": float(np.max(np.abs(d))) if d.size else 0.0,
            "psnr": 99.0 if mse == 0 else 10 * math.log10(255.0 ** 2 / mse), "n": int(valid.sum())}


def read(bands):
    return np.stack([b.ReadAsArray() for b in bands])


def check(cog, source):
    warnings, errors, _ = validator.validate(cog, full_check=True)
    out = {"validator": {"errors": errors, "warnings": warnings}}
    ds = gdal.Open(cog)
    src = gdal.Open(source)
    n = ds.RasterCount
    bands = [ds.GetRasterBand(i + 1) for i in range(n)]
    out["levels"] = [[ds.RasterXSize, ds.RasterYSize]] + [[o.XSize, o.YSize] for o in
                                                          (bands[0].GetOverview(k) for k in range(bands[0].GetOverviewCount()))]
    out["geotransform"] = list(ds.GetGeoTransform())
    out["srs_epsg"] = ds.GetSpatialRef().GetAuthorityCode(None) if ds.GetSpatialRef() else None
    out["nodata"] = bands[0].GetNoDataValue()
    out["mask_flags"] = bands[0].GetMaskFlags()
    out["structure"] = ds.GetMetadata("IMAGE_STRUCTURE")
    src_valid = src.GetRasterBand(1).GetMaskBand().ReadAsArray() > 0
    valid = bands[0].GetMaskBand().ReadAsArray() > 0
    out["mask_agreement"] = float(np.mean(valid == src_valid))
    ours = read(bands)
    theirs = read([src.GetRasterBand(i + 1) for i in range(n)])
    out["full"] = stats(ours, theirs, np.broadcast_to(src_valid, ours.shape))
    out["overviews"] = []
    above = bands
    for k in range(bands[0].GetOverviewCount()):
        level = [b.GetOverview(k) for b in bands]
        w, h = level[0].XSize, level[0].YSize
        mem = gdal.GetDriverByName("MEM").Create("", above[0].XSize, above[0].YSize, n, above[0].DataType)
        mem.CreateMaskBand(gdal.GMF_PER_DATASET)
        mem.GetRasterBand(1).GetMaskBand().WriteArray(above[0].GetMaskBand().ReadAsArray())
        for i in range(n):
            mem.GetRasterBand(i + 1).WriteArray(above[i].ReadAsArray())
        ref = gdal.GetDriverByName("MEM").Create("", w, h, n, above[0].DataType)
        for i in range(n):
            gdal.RegenerateOverview(mem.GetRasterBand(i + 1), ref.GetRasterBand(i + 1), "AVERAGE")
        ref_valid = np.zeros((h, w), bool)
        ref_mask = gdal.GetDriverByName("MEM").Create("", w, h, 1, gdal.GDT_Byte)
        gdal.RegenerateOverview(mem.GetRasterBand(1).GetMaskBand(), ref_mask.GetRasterBand(1), "AVERAGE")
        ref_valid = ref_mask.GetRasterBand(1).ReadAsArray() > 0
        lv_valid = level[0].GetMaskBand().ReadAsArray() > 0
        both = np.broadcast_to(ref_valid & lv_valid, (n, h, w))
        s = stats(read(level), read([ref.GetRasterBand(i + 1) for i in range(n)]), both)
        s["mask_agreement"] = float(np.mean(ref_valid == lv_valid))
        out["overviews"].append(s)
        above = level
    return out


def footprint(geojson, source):
    src = gdal.Open(source)
    mask = src.GetRasterBand(1).GetMaskBand()
    mem = gdal.GetDriverByName("MEM").Create("", src.RasterXSize, src.RasterYSize, 1, gdal.GDT_Byte)
    mem.SetGeoTransform(src.GetGeoTransform())
    mem.SetSpatialRef(src.GetSpatialRef())
    mem.GetRasterBand(1).WriteArray((mask.ReadAsArray() > 0).astype(np.uint8))
    store = ogr.GetDriverByName("Memory").CreateDataSource("")  # kept referenced: the layer dies with it
    layer = store.CreateLayer("p", srs=src.GetSpatialRef())
    layer.CreateField(ogr.FieldDefn("v", ogr.OFTInteger))
    band = mem.GetRasterBand(1)
    gdal.Polygonize(band, band, layer, 0)
    ref = ogr.Geometry(ogr.wkbMultiPolygon)
    for f in layer:
        ref.AddGeometry(f.GetGeometryRef().Clone())
    ref = ref.UnionCascaded()
    wgs = osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    srs = src.GetSpatialRef()
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ref.Transform(osr.CoordinateTransformation(srs, wgs))
    with open(geojson) as fh:
        doc = json.load(fh)
    ours = ogr.CreateGeometryFromJson(json.dumps(doc.get("geometry", doc)))
    inter = ours.Intersection(ref).GetArea()
    union = ours.Union(ref).GetArea()
    return {"iou": inter / union if union else 0.0, "valid": ours.IsValid(), "ref_valid": ref.IsValid(),
            "ours_area": ours.GetArea(), "ref_area": ref.GetArea()}


if __name__ == "__main__":
    if sys.argv[1] == "--footprint":
        print(json.dumps(footprint(sys.argv[2], sys.argv[3])))
    else:
        print(json.dumps(check(sys.argv[1], sys.argv[2])))
