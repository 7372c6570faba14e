from django.urls import path

from widgets import views

app_name = "widgets"

urlpatterns = [
    path("widget.js", views.loader, name="loader"),
    path("widget/<str:key>/visitor", views.visitor, name="visitor"),
    path("widget/<str:key>/frame", views.frame, name="frame"),
    path("widget/<str:key>/accent.css", views.accent, name="accent"),
]
