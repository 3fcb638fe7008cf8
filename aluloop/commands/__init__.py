"""One module per command group; ``aluloop.cli`` registers them."""
