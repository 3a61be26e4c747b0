from django.contrib import admin
from django.contrib.auth.views import LoginView, LogoutView
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # A sign-in for every user, not only staff: the predictor page sends
    # users holding mlpipeline.predict here (LOGIN_URL).
    path(
        "accounts/login/",
        LoginView.as_view(template_name="mlpipeline/login.html"),
        name="login",
    ),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path("mlpipeline/", include("mlpipeline.urls")),
]
