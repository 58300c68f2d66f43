"""A training set of real colour photos from two Debian packages; see `prepare`.

rcc reads gcompris' Qt resource bundles, licences reads debian/copyright files and bundle
READMEs, debs fetches and unpacks the packages, dedupe looks at the pixels, and prepare puts
it together and writes train/, val/ and manifest.json.
"""
