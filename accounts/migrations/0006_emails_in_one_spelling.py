"""Addresses are compared exactly now (accounts.addresses); store the one spelling everywhere.

Accounts the platform admin saved as typed (Jane@Example.com) would otherwise stop matching, and
get a second account at the next invitation. Two accounts that differ only in spelling are not
merged here: the migration stops and names them.
"""

from collections import defaultdict

from django.db import migrations


def normalize(address: str) -> str:  # accounts.addresses.normalize_email, frozen here
    return address.strip().lower()


def one_spelling(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    SignInLink = apps.get_model("accounts", "SignInLink")
    spellings = defaultdict(list)
    for pk, email in User.objects.order_by("pk").values_list("pk", "email").iterator():
        spellings[normalize(email)].append((pk, email))
    clashes = {k: v for k, v in spellings.items() if len(v) > 1}
    if clashes:
        listed = "; ".join(", ".join(e for _, e in v) for v in clashes.values())
        raise RuntimeError(f"Accounts differing only in spelling; merge them first: {listed}")
    for address, [(pk, email)] in spellings.items():
        if email != address:
            User.objects.filter(pk=pk).update(email=address)
    for pk, email in SignInLink._base_manager.values_list("pk", "email").iterator():
        if email != normalize(email):
            SignInLink._base_manager.filter(pk=pk).update(email=normalize(email))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_client_accounts_hold_no_tenant_label")]

    operations = [migrations.RunPython(one_spelling, migrations.RunPython.noop)]
