"""The officials' pages for reports, mounted at /workspace/feedback/ (config/urls.py)."""

from django.urls import path

from . import views_official as views

app_name = "feedback_official"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("statistics/", views.stats, name="stats"),
    path("<int:report_id>/", views.detail, name="detail"),
    *[
        path(f"<int:report_id>/{action}/", views.act, {"action": action}, name=action)
        for action in ("accept", "transfer", "support", "note", "answer")
    ],
    path("moderation/", views.mod_queue, name="mod_queue"),
    path("moderation/<int:report_id>/", views.mod_detail, name="mod_detail"),
    *[
        path(
            f"moderation/<int:report_id>/{action.replace('_', '-')}/",
            views.mod_act,
            {"action": action},
            name=f"mod_{action}",
        )
        for action in views.MOD_ACTIONS
    ],
]
