from zheap.testing import profiles

profiles.load()  # dev, ci or thorough, from $HYPOTHESIS_PROFILE
