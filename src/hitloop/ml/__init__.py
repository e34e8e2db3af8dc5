"""Pure numpy / scikit-learn machine learning: featurizers, learners, query strategies, simulation."""
