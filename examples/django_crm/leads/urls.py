from django.urls import path

from . import views

urlpatterns = [
    path("", views.create_lead),
    path("<int:pk>/next-step", views.next_step),
    path("<int:pk>/asks", views.ask),
]
