"""cascades"""
