from pantry import create_app

app = create_app()
