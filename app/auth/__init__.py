"""Who is calling: sign-in (WeChat mini-program, staff password), tokens, sessions."""
