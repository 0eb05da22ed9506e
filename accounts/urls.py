from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("", views.overview, name="overview"),
    path("keys/", views.keys, name="keys"),
    path("keys/new/", views.key_new, name="key-new"),
    path("keys/<str:key_id>/created/", views.key_created, name="key-created"),
    path("keys/<str:key_id>/revoke/", views.key_revoke, name="key-revoke"),
    path("usage/", views.usage, name="usage"),
    path("", include("detection.urls")),
]
