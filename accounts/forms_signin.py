from django import forms


class CodeRequestForm(forms.Form):
    email = forms.EmailField(label="Your work email", max_length=254)


class CodeEntryForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=254)
    code = forms.RegexField(
        label="Six-digit code",
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": "Enter the six digits from the email."},
    )
