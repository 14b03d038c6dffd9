from django import forms


class CodeRequestForm(forms.Form):
    email = forms.EmailField(label="Your work email", max_length=254)


class CodeEntryForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=254)
    code = forms.RegexField(
        label="Code from the email",
        # Eight digits, spaces allowed; six for codes emailed before codes grew longer.
        # [0-9], not \d: a code typed in other scripts' digits could never match.
        regex=r"^\s*([0-9]{4}\s*[0-9]{4}|[0-9]{6})\s*$",
        error_messages={"invalid": "Enter the eight digits from the email."},
    )
