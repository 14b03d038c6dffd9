"""Tenant settings pages for admins, mounted at /app/settings/.

Object ids are named key_contact_id, faq_id and domain_id: the isolation walk
(tests/test_isolation_walk.py) fills each URL kwarg by its name.
"""

from django.urls import path

from . import views_settings as views

app_name = "settings"
urlpatterns = [
    path("", views.index, name="index"),
    path("branding/", views.branding, name="branding"),
    path("branding/preview", views.branding_preview, name="branding-preview"),
    path("contacts/", views.contacts, name="contacts"),
    path("contacts/<int:key_contact_id>/", views.contact_edit, name="contact-edit"),
    path("contacts/<int:key_contact_id>/delete", views.contact_delete, name="contact-delete"),
    path("contacts/<int:key_contact_id>/move", views.contact_move, name="contact-move"),
    path("contacts/<int:key_contact_id>/photo", views.contact_photo, name="contact-photo"),
    path("faq/", views.faq, name="faq"),
    path("faq/<int:faq_id>/", views.faq_edit, name="faq-edit"),
    path("faq/<int:faq_id>/delete", views.faq_delete, name="faq-delete"),
    path("faq/<int:faq_id>/move", views.faq_move, name="faq-move"),
    path("domains/", views.domains, name="domains"),
    path("reminders/", views.reminders, name="reminders"),
    path("domains/<int:domain_id>/remove", views.domain_remove, name="domain-remove"),
    path("domains/<int:domain_id>/primary", views.domain_primary, name="domain-primary"),
    path("domains/<int:domain_id>/verify", views.domain_verify, name="domain-verify"),
    path("domains/subdomain-primary", views.domain_primary_clear, name="domain-primary-clear"),
]
