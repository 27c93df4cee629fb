from django import forms
from django.contrib.auth.models import User

MODES = [("background", "background (a worker sends the email)"), ("sync", "sync (sent inside the request)")]


class SignupForm(forms.Form):
    email = forms.EmailField(max_length=150)
    mode = forms.ChoiceField(choices=MODES, initial="background", widget=forms.HiddenInput)

    def clean_email(self) -> str:
        email: str = self.cleaned_data["email"].lower()
        if User.objects.filter(username=email).exists():
            raise forms.ValidationError("This address is already registered.")
        return email
