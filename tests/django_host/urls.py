from django.contrib import admin
from django.urls import path

from .admin import crm_site

urlpatterns = [path("crm/", crm_site.urls), path("admin/", admin.site.urls)]
