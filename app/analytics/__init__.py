"""Clinical analytics: CGM summaries and AGP, blood-pressure summaries, charts, doctor's panel."""
