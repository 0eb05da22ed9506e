from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("v1/", include("amd_project.api_urls")),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
]

handler404 = "amd_project.views.not_found"
handler500 = "amd_project.views.server_error"
