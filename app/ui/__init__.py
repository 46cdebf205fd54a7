"""The Qt desktop console. Only this package imports Qt."""
