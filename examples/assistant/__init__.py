"""The voice assistant's action layer (no audio here): state file, calculator, actions.
examples/voice_assistant.py puts it behind the microphone."""
