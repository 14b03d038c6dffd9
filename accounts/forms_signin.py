from django import forms


class CodeRequestForm(forms.Form):
    email = forms.EmailField(label="Your work email", max_length=254)


class CodeEntryForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=254)
    code = forms.RegexField(
        label="Code from the email",
        # Eight digits, spaces allowed; six for codes emailed before codes grew longer.
        regex=r"^\s*(\d{4}\s*\d{4}|\d{6})\s*$",
        error_messages={"invalid": "Enter the eight digits from the email."},
    )
