"""Vietnamese dates as offices write them: 23/11/2026, 09:30 23/11/2026 (Django's own
short formats use dashes)."""

SHORT_DATE_FORMAT = "d/m/Y"
SHORT_DATETIME_FORMAT = "H:i d/m/Y"
