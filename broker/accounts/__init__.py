"""Professional accounts: registered once after the first upstream login, edited later, found
again through a linked upstream identity or the person's verified national identifier."""
