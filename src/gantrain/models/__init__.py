"""Networks only: generators, encoders/decoders and critics. No loss math lives here."""
