"""Pictures from an output folder (placeholder until the renderer lands)."""


def render_folder(folder):
    return []
