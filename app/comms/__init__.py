"""Telling people: notifications, announcements and email."""
