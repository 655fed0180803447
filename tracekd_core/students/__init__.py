"""Students (paper 5): the model catalog, chat rendering with loss masks, training, generation."""
