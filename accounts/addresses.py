"""Email addresses: one spelling stored, compared exactly.

Every address is stored lowercased (Python's `str.lower`), so a lookup lowercases its input the
same way and compares with `=`. Never an `iexact` lookup: on PostgreSQL that compares `UPPER()` of
both sides, which folds Unicode, and `UPPER('jane@acmı.example')` equals
`UPPER('jane@acmi.example')`. A look-alike domain someone can register would then match another
person's account, and with it their invitations and sign-in codes.
"""


def normalize_email(address: str) -> str:
    return address.strip().lower()
