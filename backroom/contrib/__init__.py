"""Call styles of other task libraries, mapped onto Django's Tasks API, for projects moving to backroom."""
