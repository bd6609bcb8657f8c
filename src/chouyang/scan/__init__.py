"""Scanned and photographed pages: locate, read tick marks, interpret rows, the review queue."""
